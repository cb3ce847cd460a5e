-- Internal and external users per user provider and tenant inside each environment.
--
-- Counts, per (production environment, user_provider, tenant), the distinct persons with a
-- counted event there, by their classification before the waterfall: OutSystems'
-- distribution per user provider. A person with accounts under two providers counts under
-- each, and once in the environment's total (the `environments` report).
SELECT
    e.environment_id,
    e.user_provider,
    e.tenant,
    count(DISTINCT e.person_key) FILTER (WHERE p.classification = 'Internal') AS internal_users,
    count(DISTINCT e.person_key) FILTER (WHERE p.classification = 'External') AS external_users
FROM person_environments e
JOIN persons p ON p.month = e.month AND p.person_key = e.person_key
WHERE e.month = {{month}}
GROUP BY e.environment_id, e.user_provider, e.tenant
ORDER BY e.environment_id, e.user_provider, e.tenant;
