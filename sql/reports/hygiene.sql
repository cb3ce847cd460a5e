-- Findings that inflate or blur the bill in one month, with the persons or seats each affects.
--
-- Always eight rows, affected_users 0 when a check finds nothing:
--   case_or_space_variants        identifiers that differ only by case or white space:
--                                 affected_users is the seats that normalizing them at source
--                                 would save under identifiers.case = exact (each extra
--                                 spelling of one identifier is one more person there);
--   pairwise_identifiers          persons (e-mail hashes) in apps whose identifiers never match
--                                 another app's for the same e-mail (per-app `sub`-style
--                                 identifiers split people);
--   missing_named_user_identifier persons with an account identified by user name only;
--   conflicting_classification    persons whose accounts were classified differently;
--   unclassified                  counted persons for whom no rule answered (counted Internal,
--                                 as the vendor does);
--   internal_outside_domains      persons counted Internal with an account whose e-mail domain
--                                 is not an internal domain of its environment (contractors
--                                 are Internal by definition: review, not wrong);
--   mixed_pack_users              internal persons who used an app with a pack and one without:
--                                 the seats `waterfall.mixed` decides;
--   event_id_conflicts            event ids a source sent in versions that differ, counted in
--                                 events, not persons: the earliest version counts and the
--                                 others are in the `conflicts` table (docs/semantics.md
--                                 "Counted events"); a source that reuses ids needs a look.
--
-- Where a setting decides what a finding costs, its detail ends with the what-if that shows it
-- (docs/semantics.md "What-if").
--
-- Each check is its own statement, kept as a one-row table, so the checks run one after
-- another and each has the whole memory pool: in one plan, their joins and aggregates ran at
-- once and outgrew it at 100M events (BENCHMARKS.md item 24).

CREATE TABLE check_variants AS
SELECT 1 AS ord, 'case_or_space_variants' AS "check",
       coalesce(sum(spellings - 1), 0) AS affected_users,
       CASE {{case}}
           WHEN 'insensitive' THEN 'identifiers spelled differently only by case or white space; identifiers.case = insensitive already counts each as one person'
           ELSE 'identifiers spelled differently only by case or white space; each spelling is a person under identifiers.case = ' || {{case}} || ': normalizing them at source saves this many seats; to see where: seatcount report usage --what-if identifiers.case=insensitive'
       END AS detail
FROM (
    SELECT count(DISTINCT exact) AS spellings
    FROM (
        SELECT CASE WHEN {{source}} = 'name' THEN user_name_hash
                    ELSE coalesce(named_user_identifier_hash, user_name_hash) END AS normalized,
               CASE WHEN {{source}} = 'name' THEN user_name_exact_hash
                    ELSE coalesce(named_user_identifier_exact_hash, user_name_exact_hash) END AS exact
        FROM account_events
        WHERE month = {{month}}
    )
    GROUP BY normalized
    HAVING count(DISTINCT exact) > 1
);

CREATE TABLE check_pairwise AS
WITH app_emails AS (
    SELECT DISTINCT app_id, email_hash, identifier_key
    FROM account_events
    WHERE month = {{month}} AND email_hash IS NOT NULL
),
shared AS (
    -- For each app and e-mail seen in another app too: does any other app use the same identifier?
    SELECT a.app_id, a.email_hash, bool_or(a.identifier_key = b.identifier_key) AS matches
    FROM app_emails a
    JOIN app_emails b ON b.email_hash = a.email_hash AND b.app_id <> a.app_id
    GROUP BY a.app_id, a.email_hash
),
pairwise AS (
    SELECT app_id, count(DISTINCT email_hash) AS emails
    FROM shared
    GROUP BY app_id
    HAVING NOT bool_or(matches)
)
SELECT 2 AS ord, 'pairwise_identifiers' AS "check",
       coalesce(sum(emails), 0) AS affected_users,
       coalesce('apps whose identifiers never match another app''s for the same e-mail: '
                || string_agg(app_id, ',' ORDER BY app_id)
                || '; what merging by e-mail would save: seatcount report usage --what-if dedup.policy=username_or_email',
                'no app uses per-app identifiers') AS detail
FROM pairwise;

CREATE TABLE check_missing AS
SELECT 3 AS ord, 'missing_named_user_identifier' AS "check",
       count(DISTINCT person_key) AS affected_users,
       coalesce('accounts without a NamedUserIdentifier in apps: '
                || string_agg(DISTINCT app_id, ',' ORDER BY app_id)
                || CASE WHEN {{source}} = 'name' THEN ''
                        ELSE '; counted by user name everywhere: seatcount report usage --what-if identifiers.source=name' END,
                'every account has a NamedUserIdentifier') AS detail
FROM account_persons
WHERE month = {{month}} AND NOT has_named_user_identifier;

CREATE TABLE check_conflicting AS
SELECT 4 AS ord, 'conflicting_classification' AS "check",
       count(*) AS affected_users,
       'persons whose accounts are classified differently; resolved by classification.conflict = ' || {{conflict}}
           || '; the other reading: seatcount report usage --what-if classification.conflict='
           || CASE WHEN {{conflict}} = 'external_wins' THEN 'internal_wins' ELSE 'external_wins' END AS detail
FROM persons
WHERE month = {{month}} AND conflicting;

CREATE TABLE check_unclassified AS
SELECT 5 AS ord, 'unclassified' AS "check",
       count(*) AS affected_users,
       'counted persons for whom no classification rule answered; counted Internal, as the vendor does'
           || CASE WHEN {{rules_then_domains}} = '' THEN ''
                   ELSE '; with the domains rule last: seatcount report usage --what-if classification.rules=' || {{rules_then_domains}} END
           AS detail
FROM persons
WHERE month = {{month}} AND unclassified;

CREATE TABLE check_outside AS
SELECT 6 AS ord, 'internal_outside_domains' AS "check",
       count(DISTINCT a.person_key) FILTER (WHERE a.by_domains = 'External' AND f.final_classification = 'Internal')
           AS affected_users,
       CASE WHEN bool_or(a.by_domains IS NOT NULL)
            THEN 'persons counted Internal whose e-mail domain is not an internal domain: review, contractors are Internal by definition; classified by domain alone: seatcount report usage --what-if classification.rules=["domains"]'
            ELSE 'no internal domains configured'
       END AS detail
FROM account_persons a
JOIN final_persons f ON f.month = a.month AND f.person_key = a.person_key
WHERE a.month = {{month}};

CREATE TABLE check_mixed AS
SELECT 7 AS ord, 'mixed_pack_users' AS "check",
       count(*) FILTER (WHERE {{waterfall_enabled}} AND final_classification = 'Internal' AND uses_pack AND uses_other)
           AS affected_users,
       CASE
           WHEN NOT {{waterfall_enabled}} THEN 'the waterfall is off: no single-app packs'
           WHEN {{mixed}} = 'single_app' THEN 'internal persons who used an app with a pack and one without; waterfall.mixed = single_app counts them on their packs only, multi_app would count them as Multi-App instead: seatcount report usage --what-if waterfall.mixed=multi_app'
           WHEN {{mixed}} = 'multi_app' THEN 'internal persons who used an app with a pack and one without; waterfall.mixed = multi_app counts them as Multi-App only, single_app would count them on their packs instead: seatcount report usage --what-if waterfall.mixed=single_app'
           ELSE 'internal persons who used an app with a pack and one without; waterfall.mixed = both counts them on their packs and again as Multi-App'
       END AS detail
FROM final_persons
WHERE month = {{month}};

CREATE TABLE check_event_conflicts AS
SELECT 8 AS ord, 'event_id_conflicts' AS "check",
       count(DISTINCT (app_id, environment_id, event_id)) AS affected_users,
       coalesce('event ids sent in versions that differ (a count of events, not persons); the earliest counts, the rest are in the conflicts table; by app: '
                || string_agg(DISTINCT app_id, ',' ORDER BY app_id),
                'no source sent one event id in versions that differ') AS detail
FROM conflicts
WHERE month = {{month}};

SELECT "check", CAST(affected_users AS BIGINT) AS affected_users, detail
FROM (
    SELECT * FROM check_variants
    UNION ALL SELECT * FROM check_pairwise
    UNION ALL SELECT * FROM check_missing
    UNION ALL SELECT * FROM check_conflicting
    UNION ALL SELECT * FROM check_unclassified
    UNION ALL SELECT * FROM check_outside
    UNION ALL SELECT * FROM check_mixed
    UNION ALL SELECT * FROM check_event_conflicts
)
ORDER BY ord;
