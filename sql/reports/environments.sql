-- Internal and external users per production environment in one month.
--
-- The totals of OutSystems' "End-Users Configuration" page: one row per production
-- environment with events that month, counting the distinct persons with a counted event
-- there by their classification before the waterfall (an External person counts as external
-- here even without an External subscription). Under `dedup.scope = portfolio` a person used
-- in two environments counts in each. The display name is the latest one given.
WITH environments AS (
    SELECT
        environment_id,
        last_value(environment_name ORDER BY event_time) FILTER (WHERE environment_name IS NOT NULL) AS environment_name
    FROM events
    WHERE month = {{month}} AND environment_type = 'production'
    GROUP BY environment_id
),
counted AS (
    SELECT
        e.environment_id,
        count(DISTINCT e.person_key) FILTER (WHERE p.classification = 'Internal') AS internal_users,
        count(DISTINCT e.person_key) FILTER (WHERE p.classification = 'External') AS external_users
    FROM person_environments e
    JOIN persons p ON p.month = e.month AND p.person_key = e.person_key
    WHERE e.month = {{month}}
    GROUP BY e.environment_id
)
SELECT
    e.environment_id,
    e.environment_name,
    coalesce(c.internal_users, 0) AS internal_users,
    coalesce(c.external_users, 0) AS external_users
FROM environments e
LEFT JOIN counted c ON c.environment_id = e.environment_id
ORDER BY e.environment_id;
