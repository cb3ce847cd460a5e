-- The waterfall's decisions per person and month (docs/semantics.md "Waterfall"), as each
-- month keeps them (docs/derived.md): with the person's hash, from which `final_persons`
-- (61_final_persons.sql) gives every reader the person_id. Kept as text, the id made the
-- file a third larger, and `users` at 100M could not sort it (BENCHMARKS.md run W).
--
-- person_key is kept only under `dedup.scope = environment`, where it also names the
-- environment (31_account_persons.sql). Otherwise it is hash_key(person_hash), which
-- `final_persons` computes again: kept, it was 16 of the 36 bytes a person took in the file
-- (BENCHMARKS.md run Z).
--
-- final_classification:
--   waterfall on (`waterfall.enabled`, Mendix): a person classified External is External only
--     when an External subscription counts for the month; without one they fall through and
--     count as Internal.
--   waterfall off (OutSystems): the classification itself; nothing falls through.
-- uses_pack / uses_other: whether the person used an app whose assigned pack counts for the
-- month, and an app without one, as `persons` (56_persons.sql) takes them. `consumption`
-- reads them with `waterfall.mixed`; a person with both is a mixed pack user.
CREATE VIEW waterfall_persons AS
SELECT
    p.month,
    p.person_hash,
    CASE WHEN {{dedup_scope}} = 'environment' THEN p.person_key END AS person_key,
    p.classification,
    CASE
        WHEN NOT {{waterfall_enabled}} THEN p.classification
        WHEN p.classification = 'External' AND x.month IS NOT NULL THEN 'External'
        ELSE 'Internal'
    END AS final_classification,
    p.uses_pack,
    p.uses_other
FROM persons p
LEFT JOIN (
    SELECT DISTINCT month FROM valid_subscriptions WHERE subscription_type = 'external'
) x ON x.month = p.month;
