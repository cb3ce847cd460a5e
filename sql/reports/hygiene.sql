-- Findings that inflate the bill in one month: duplicates, missing identifiers, conflicts.
--
-- Always five rows, affected_users 0 when a check finds nothing:
--   case_or_space_variants       identifiers that differ only by case or white space (several
--                                spellings of one normalized identifier);
--   pairwise_identifiers         apps whose identifiers never match another app's for the same
--                                e-mail hash (per-app `sub`-style identifiers split people);
--   missing_named_user_identifier persons with an account identified by user name only;
--   conflicting_classification   persons whose accounts were classified differently;
--   internal_outside_domains     persons counted Internal whose e-mail domain is not one of
--                                classification.internal_domains (only when some are set).
--
-- Each check is its own statement, kept as a one-row table, so the checks run one after
-- another and each has the whole memory pool: in one plan, their joins and aggregates ran at
-- once and outgrew it at 100M events (BENCHMARKS.md item 24).

CREATE TABLE check_variants AS
SELECT 1 AS ord, 'case_or_space_variants' AS "check",
       count(*) AS affected_users,
       'identifiers spelled differently only by case or white space' AS detail
FROM (
    SELECT coalesce(named_user_identifier_hash, user_name_hash) AS normalized
    FROM counted_events
    WHERE month = {{month}}
    GROUP BY coalesce(named_user_identifier_hash, user_name_hash)
    HAVING count(DISTINCT identifier_exact_hash) > 1
);

CREATE TABLE check_pairwise AS
WITH app_emails AS (
    SELECT DISTINCT app_id, email_hash, identifier_key
    FROM counted_events
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
                || string_agg(app_id, ',' ORDER BY app_id),
                'no app uses per-app identifiers') AS detail
FROM pairwise;

CREATE TABLE check_missing AS
SELECT 3 AS ord, 'missing_named_user_identifier' AS "check",
       count(DISTINCT person_key) AS affected_users,
       coalesce('accounts without a NamedUserIdentifier in apps: '
                || string_agg(DISTINCT app_id, ',' ORDER BY app_id),
                'every account has a NamedUserIdentifier') AS detail
FROM account_persons
WHERE month = {{month}} AND NOT has_named_user_identifier;

CREATE TABLE check_conflicting AS
SELECT 4 AS ord, 'conflicting_classification' AS "check",
       count(*) AS affected_users,
       'persons whose accounts are classified differently; resolved by classification.conflict = ' || {{conflict}} AS detail
FROM persons
WHERE month = {{month}} AND conflicting;

CREATE TABLE check_outside AS
SELECT 5 AS ord, 'internal_outside_domains' AS "check",
       count(DISTINCT a.person_key) AS affected_users,
       CASE WHEN {{has_internal_domains}}
            THEN 'persons counted Internal whose e-mail domain is not an internal domain'
            ELSE 'no classification.internal_domains configured'
       END AS detail
FROM account_persons a
JOIN final_persons f ON f.month = a.month AND f.person_key = a.person_key
WHERE a.month = {{month}}
  AND {{has_internal_domains}}
  AND f.final_classification = 'Internal'
  AND a.email_domain IS NOT NULL
  AND NOT array_has({{internal_domains}}, a.email_domain);

SELECT "check", CAST(affected_users AS BIGINT) AS affected_users, detail
FROM (
    SELECT * FROM check_variants
    UNION ALL SELECT * FROM check_pairwise
    UNION ALL SELECT * FROM check_missing
    UNION ALL SELECT * FROM check_conflicting
    UNION ALL SELECT * FROM check_outside
)
ORDER BY ord;
