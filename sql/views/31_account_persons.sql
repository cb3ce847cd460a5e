-- The accounts of a month with their persons (docs/semantics.md "Persons"): `account_owners`
-- with the person's hash in the two forms the later views and reports read, computed here
-- rather than kept, since each is a function of the hash: kept, they made a month's accounts
-- file 41% larger (BENCHMARKS.md run U).
--
-- person_hash the hash itself (the identifier key under `dedup.policy = identifier`), which
--             `persons` and the kept `waterfall_persons` carry: 16 or 32 bytes where
--             person_id is 32 characters;
-- person_id   the hash's first 16 bytes in hex, what `users` prints;
-- person_key  its first 126 bits as a number (`hash_key`), by which the later views group and
--             join people: cheaper to hash, compare and hold than text (BENCHMARKS.md item 35).
--             Under `dedup.scope = environment` the key also names the environment, so one
--             identifier in two environments is two persons with one person_id.
CREATE VIEW account_persons AS
SELECT
    *,
    hash_key(CASE WHEN {{dedup_scope}} = 'environment'
                  THEN sha256(concat_ws('/', scope_environment, person_id))
                  ELSE person_hash END) AS person_key
FROM (
    SELECT *, left(encode(person_hash, 'hex'), 32) AS person_id
    -- NULL is the identifier key (30_account_owners.sql).
    FROM (
        SELECT * REPLACE (
            coalesce(arrow_cast(person_hash, 'Binary'), arrow_cast(identifier_key, 'Binary')) AS person_hash
        )
        FROM account_owners
    )
);
