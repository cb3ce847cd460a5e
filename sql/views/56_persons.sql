-- Persons per month and their classification before the waterfall (docs/semantics.md
-- "Classification", `classification.conflict`), grouped by person_key (see
-- 31_account_persons.sql); person_hash is the one hash of that key, and person_id its hex as
-- in account_persons. A person is `unclassified` when no rule answered for any of their
-- accounts.
--
-- A person whose accounts were classified differently in one month is resolved by the
-- configured policy:
--   internal_wins (default)  External only when every account is External;
--   external_wins            External when any account is External;
--   latest                   the classification of the account with the latest counted event
--                            (on a tie, Internal).
--
-- uses_pack / uses_other: whether the person used an app whose assigned pack counts for the
-- month (single_app_packs), and an app without one: what the waterfall's Single-App step reads
-- (60_waterfall_persons.sql). They are taken here, in the one grouping of the month's
-- accounts by person, because the waterfall used to group the person's apps a second time and
-- join the two groupings person by person, which cost a month at 100M more CPU than the
-- persons themselves (BENCHMARKS.md run Y). Each account's app matches at most one row of
-- single_app_packs (one per month and app), so the join adds a flag to each account and
-- changes no other aggregate.
--
-- `latest(x, t, NULL)` is `first_value(x ORDER BY t DESC, x DESC)` (see 20_accounts.sql): on a
-- tie 'Internal' sorts after 'External' and wins. The policy is written `CASE WHEN
-- {{conflict}} = '...'`, which the planner folds, so only the configured policy's aggregate
-- is computed.
CREATE VIEW persons AS
SELECT month, left(encode(person_hash, 'hex'), 32) AS person_id, * EXCLUDE (month)
FROM (
    SELECT
        month,
        max(person_hash) AS person_hash,
        person_key,
        CASE
            WHEN {{conflict}} = 'internal_wins' THEN CASE WHEN bool_and(classification = 'External') THEN 'External' ELSE 'Internal' END
            WHEN {{conflict}} = 'external_wins' THEN CASE WHEN bool_or(classification = 'External') THEN 'External' ELSE 'Internal' END
            ELSE latest(classification, last_event, CAST(NULL AS VARCHAR))
        END AS classification,
        -- An account's classification is 'External' or 'Internal' (20_accounts.sql), so the
        -- accounts disagree when some are External and not all are. Two flags per person,
        -- where min(...) <> max(...) kept two strings per person: a cold month's persons
        -- at 100M took a second more (BENCHMARKS.md run Z).
        bool_or(classification = 'External') AND NOT bool_and(classification = 'External') AS conflicting,
        bool_and(unclassified) AS unclassified,
        max(last_event) AS last_event,
        bool_or(in_pack) AS uses_pack,
        bool_or(NOT in_pack) AS uses_other
    FROM (
        -- The packs on the join's build side: a few rows, where the accounts would be the
        -- month's millions.
        SELECT a.*, s.app_id IS NOT NULL AS in_pack
        FROM single_app_packs s
        RIGHT JOIN account_persons a ON s.month = a.month AND s.app_id = a.app_id
    )
    GROUP BY month, person_key
);
