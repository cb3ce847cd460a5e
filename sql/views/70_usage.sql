-- Consumption against entitlement per month (SPEC §4, §8 `usage`).
--
-- Every month has a row for external and one for multi_app_internal, and one per app with a
-- valid single-app pack, even when nothing was consumed. entitlement is the sum of the valid
-- subscriptions' quantities of that type (of that app for single-app packs); over_usage is
-- what consumption exceeds it by, never negative. Over-usage is reported, not enforced.
CREATE VIEW usage AS
WITH lines AS (
    SELECT month, 'external' AS subscription_type, CAST(NULL AS VARCHAR) AS app_id, 1 AS step FROM months
    UNION ALL
    SELECT month, 'single_app_internal', app_id, 2 FROM single_app_packs
    UNION ALL
    SELECT month, 'multi_app_internal', CAST(NULL AS VARCHAR), 3 FROM months
),
entitled AS (
    SELECT month, subscription_type, coalesce(app_id, '') AS app_key, sum(quantity) AS entitlement
    FROM valid_subscriptions
    WHERE subscription_type <> 'single_app_internal' OR app_id IS NOT NULL
    GROUP BY month, subscription_type, coalesce(app_id, '')
),
used AS (
    SELECT month, subscription_type, coalesce(app_id, '') AS app_key, count(DISTINCT person_key) AS consumption
    FROM consumption
    GROUP BY month, subscription_type, coalesce(app_id, '')
)
SELECT
    l.month,
    l.subscription_type,
    l.app_id,
    CAST(coalesce(e.entitlement, 0) AS BIGINT) AS entitlement,
    CAST(coalesce(u.consumption, 0) AS BIGINT) AS consumption,
    CAST(greatest(coalesce(u.consumption, 0) - coalesce(e.entitlement, 0), 0) AS BIGINT) AS over_usage,
    l.step
FROM lines l
LEFT JOIN entitled e
  ON e.month = l.month AND e.subscription_type = l.subscription_type AND e.app_key = coalesce(l.app_id, '')
LEFT JOIN used u
  ON u.month = l.month AND u.subscription_type = l.subscription_type AND u.app_key = coalesce(l.app_id, '');
