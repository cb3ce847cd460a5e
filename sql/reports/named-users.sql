-- Distinct named users per production environment in one month.
--
-- One row per production environment with events that month. named_users counts the distinct
-- persons with a counted event there; usage_extracted_on is the latest counted event (empty
-- when every event there was inactive or anonymous). Display names are the latest ones given.
WITH environments AS (
    SELECT
        app_id,
        environment_id,
        last_value(app_name ORDER BY event_time) FILTER (WHERE app_name IS NOT NULL) AS app_name,
        last_value(environment_name ORDER BY event_time) FILTER (WHERE environment_name IS NOT NULL) AS environment_name,
        last_value(deployment_type ORDER BY event_time) FILTER (WHERE deployment_type IS NOT NULL) AS deployment_type
    FROM events
    WHERE month = {{month}} AND environment_type = 'production'
    GROUP BY app_id, environment_id
),
counted AS (
    SELECT app_id, environment_id, max(event_time) AS usage_extracted_on
    FROM account_events
    WHERE month = {{month}}
    GROUP BY app_id, environment_id
),
persons_there AS (
    SELECT app_id, environment_id, count(DISTINCT person_key) AS named_users
    FROM person_environments
    WHERE month = {{month}}
    GROUP BY app_id, environment_id
)
SELECT
    e.app_name,
    e.app_id,
    e.environment_name,
    e.environment_id,
    e.deployment_type,
    c.usage_extracted_on,
    coalesce(n.named_users, 0) AS named_users
FROM environments e
LEFT JOIN counted c ON c.app_id = e.app_id AND c.environment_id = e.environment_id
LEFT JOIN persons_there n ON n.app_id = e.app_id AND n.environment_id = e.environment_id
ORDER BY e.app_id, e.environment_id;
