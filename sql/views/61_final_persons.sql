-- The waterfall's decisions per person and month (60_waterfall_persons.sql), with the person
-- as `users` prints them: person_id is the hash's first 16 bytes in hex, as in
-- account_persons (31_account_persons.sql). person_key is the kept one under
-- `dedup.scope = environment`, else the hash's key, as account_persons computes it.
CREATE VIEW final_persons AS
SELECT
    month,
    left(encode(person_hash, 'hex'), 32) AS person_id,
    CASE WHEN {{dedup_scope}} = 'environment' THEN person_key ELSE hash_key(person_hash) END AS person_key,
    classification,
    final_classification,
    uses_pack,
    uses_other
FROM waterfall_persons;
