-- What changed in a closed month since its close (docs/evidence.md "Month close").
--
-- `inputs` is what the close recorded against what is there now (the month's events files,
-- the configuration, subscriptions and assignments as hashes, the version); `closed_usage` and
-- `closed_users` are the close's saved `usage` and `users`, `now_usage` and `now_users` the
-- same reports computed now. Only counts and hashes appear, never a person.
--
-- One row per item: what, at_close, now, change. An input's change is 'changed' or ''. A
-- count's change is now − at_close. `persons added` are person_ids counted now and not at the
-- close (a late event's newcomer), `persons gone` the reverse. `seats` rows follow `usage`'s
-- lines, a line only one side has counting 0 on the other.
WITH persons AS (
    SELECT
        (SELECT count(*) FROM closed_users) AS at_close,
        (SELECT count(*) FROM now_users) AS now,
        (SELECT count(*) FROM now_users n WHERE n.person_id NOT IN (SELECT person_id FROM closed_users)) AS added,
        (SELECT count(*) FROM closed_users c WHERE c.person_id NOT IN (SELECT person_id FROM now_users)) AS gone
),
seats AS (
    SELECT
        coalesce(c.subscription_type, n.subscription_type) AS subscription_type,
        coalesce(c.app_id, n.app_id) AS app_id,
        coalesce(c.consumption, 0) AS closed_consumption,
        coalesce(n.consumption, 0) AS now_consumption,
        coalesce(c.over_usage, 0) AS closed_over,
        coalesce(n.over_usage, 0) AS now_over
    FROM closed_usage c
    FULL JOIN now_usage n
      ON n.subscription_type = c.subscription_type
     AND coalesce(n.app_id, '') = coalesce(c.app_id, '')
),
items AS (
    SELECT 1 AS ord, what, at_close, now,
           CASE WHEN at_close IS DISTINCT FROM now THEN 'changed' ELSE '' END AS change
    FROM inputs
    UNION ALL
    SELECT 2, 'persons', CAST(at_close AS VARCHAR), CAST(now AS VARCHAR), CAST(now - at_close AS VARCHAR)
    FROM persons
    UNION ALL
    SELECT 3, 'persons added', '0', CAST(added AS VARCHAR), CAST(added AS VARCHAR) FROM persons
    UNION ALL
    SELECT 4, 'persons gone', '0', CAST(gone AS VARCHAR), CAST(gone AS VARCHAR) FROM persons
    UNION ALL
    SELECT 5, 'seats ' || subscription_type || coalesce(' ' || app_id, ''),
           CAST(closed_consumption AS VARCHAR), CAST(now_consumption AS VARCHAR),
           CAST(now_consumption - closed_consumption AS VARCHAR)
    FROM seats
    UNION ALL
    SELECT 6, 'over-usage ' || subscription_type || coalesce(' ' || app_id, ''),
           CAST(closed_over AS VARCHAR), CAST(now_over AS VARCHAR),
           CAST(now_over - closed_over AS VARCHAR)
    FROM seats
)
SELECT what, at_close, now, change
FROM items
ORDER BY ord, what;
