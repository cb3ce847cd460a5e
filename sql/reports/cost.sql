-- What each month's usage lines cost: entitlement, unused seats and over-usage, priced.
--
-- One row per line of `usage`, for every month with data, oldest first. unused is the seats
-- bought and not used (entitlement − consumption, never negative). unit_price is what one
-- user of the line costs for the month: the subscriptions' unit prices weighted by their
-- quantities (entitlements.csv's unit_price and currency, docs/configuration.md). The costs
-- are the entitlement's (what the line's subscriptions cost), the unused seats' and the
-- over-usage's, each seat at that unit price, rounded to cents. A line without subscriptions,
-- or with one that has no price, has no unit price and no costs: over-usage with nothing
-- bought has no contract price to apply.
WITH priced AS (
    SELECT month, subscription_type, coalesce(app_id, '') AS app_or_empty,
           sum(CAST(quantity AS DECIMAL(38, 4)) * unit_price) AS entitlement_cost,
           bool_and(unit_price IS NOT NULL) AS all_priced,
           max(currency) AS currency
    FROM valid_subscriptions
    GROUP BY month, subscription_type, coalesce(app_id, '')
),
lines AS (
    SELECT u.month, u.subscription_type, u.app_id, u.entitlement, u.consumption,
           greatest(u.entitlement - u.consumption, 0) AS unused, u.over_usage, u.step,
           p.currency,
           CASE WHEN p.all_priced AND u.entitlement > 0
                THEN p.entitlement_cost / CAST(u.entitlement AS DECIMAL(38, 4)) END AS unit_price,
           CASE WHEN p.all_priced THEN p.entitlement_cost END AS entitlement_cost
    FROM usage u
    LEFT JOIN priced p
      ON p.month = u.month AND p.subscription_type = u.subscription_type
     AND p.app_or_empty = coalesce(u.app_id, '')
)
SELECT
    month, subscription_type, app_id, entitlement, consumption,
    CAST(unused AS BIGINT) AS unused, over_usage,
    CASE WHEN unit_price IS NOT NULL THEN currency END AS currency,
    CAST(round(unit_price, 4) AS DECIMAL(18, 4)) AS unit_price,
    CAST(round(entitlement_cost, 2) AS DECIMAL(18, 2)) AS entitlement_cost,
    CAST(round(unused * unit_price, 2) AS DECIMAL(18, 2)) AS unused_cost,
    CAST(round(over_usage * unit_price, 2) AS DECIMAL(18, 2)) AS over_usage_cost
FROM lines
ORDER BY month, step, app_id;
