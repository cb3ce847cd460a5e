-- Internal and external users per user provider and tenant in one month.
--
-- Counts, per (user_provider, tenant), the distinct persons with a counted account there, by
-- their final classification after the waterfall (an External person without a valid External
-- subscription counts as internal). A person with accounts under two providers counts in both.
SELECT
    a.user_provider,
    a.tenant,
    count(DISTINCT a.person_key) FILTER (WHERE f.final_classification = 'Internal') AS internal_users,
    count(DISTINCT a.person_key) FILTER (WHERE f.final_classification = 'External') AS external_users
FROM account_persons a
JOIN final_persons f ON f.month = a.month AND f.person_key = a.person_key
WHERE a.month = {{month}}
GROUP BY a.user_provider, a.tenant
ORDER BY a.user_provider, a.tenant;
