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
WITH counted AS (
    SELECT * FROM counted_events WHERE month = {{month}}
),
variants AS (
    SELECT coalesce(named_user_identifier_hash, user_name_hash) AS normalized
    FROM counted
    GROUP BY coalesce(named_user_identifier_hash, user_name_hash)
    HAVING count(DISTINCT identifier_exact_hash) > 1
),
app_emails AS (
    SELECT DISTINCT app_id, email_hash, identifier_key FROM counted WHERE email_hash IS NOT NULL
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
),
persons_month AS (
    SELECT * FROM account_persons WHERE month = {{month}}
),
outside AS (
    SELECT DISTINCT a.person_id
    FROM persons_month a
    JOIN final_persons f ON f.month = a.month AND f.person_id = a.person_id
    WHERE {{has_internal_domains}}
      AND f.final_classification = 'Internal'
      AND a.email_domain IS NOT NULL
      AND NOT array_has({{internal_domains}}, a.email_domain)
)
SELECT "check", affected_users, detail
FROM (
SELECT 1 AS ord, 'case_or_space_variants' AS "check",
       CAST((SELECT count(*) FROM variants) AS BIGINT) AS affected_users,
       'identifiers spelled differently only by case or white space' AS detail
UNION ALL
SELECT 2, 'pairwise_identifiers',
       coalesce((SELECT sum(emails) FROM pairwise), 0),
       coalesce('apps whose identifiers never match another app''s for the same e-mail: '
                || (SELECT string_agg(app_id, ',' ORDER BY app_id) FROM pairwise),
                'no app uses per-app identifiers')
UNION ALL
SELECT 3, 'missing_named_user_identifier',
       (SELECT count(DISTINCT person_id) FROM persons_month WHERE NOT has_named_user_identifier),
       coalesce('accounts without a NamedUserIdentifier in apps: '
                || (SELECT string_agg(DISTINCT app_id, ',' ORDER BY app_id) FROM persons_month WHERE NOT has_named_user_identifier),
                'every account has a NamedUserIdentifier')
UNION ALL
SELECT 4, 'conflicting_classification',
       (SELECT count(*) FROM persons WHERE month = {{month}} AND conflicting),
       'persons whose accounts are classified differently; resolved by classification.conflict = ' || {{conflict}}
UNION ALL
SELECT 5, 'internal_outside_domains',
       (SELECT count(*) FROM outside),
       CASE WHEN {{has_internal_domains}}
            THEN 'persons counted Internal whose e-mail domain is not an internal domain'
            ELSE 'no classification.internal_domains configured'
       END
)
ORDER BY ord;
