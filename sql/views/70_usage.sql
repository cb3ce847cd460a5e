-- Consumption against entitlement per month (docs/semantics.md "Reports").
--
-- Waterfall on: every month has a row for external and one for multi_app_internal, one per
-- app with a single-app pack that counts for the month (several packs on one app summed),
-- and one with an empty app_id for counting packs assigned to no app. `internal`
-- subscriptions have no row.
-- Waterfall off: a row for external and one for internal, and none for pack types.
-- Rows exist with consumption 0 too. entitlement is the sum of the quantities of the
-- subscriptions of that type (and app) that count for the month; over_usage is what
-- consumption exceeds it by, never negative. Over-usage is reported, not enforced.
CREATE VIEW usage AS
WITH lines AS (
    SELECT month, 'external' AS subscription_type, CAST(NULL AS VARCHAR) AS app_id, 1 AS step FROM months
    UNION ALL
    SELECT month, 'single_app_internal', app_id, 2 FROM single_app_packs WHERE {{waterfall_enabled}}
    UNION ALL
    SELECT month, 'multi_app_internal', CAST(NULL AS VARCHAR), 3 FROM months WHERE {{waterfall_enabled}}
    UNION ALL
    SELECT month, 'internal', CAST(NULL AS VARCHAR), 2 FROM months WHERE NOT {{waterfall_enabled}}
),
entitled AS (
    SELECT month, subscription_type, coalesce(app_id, '') AS app_or_empty, sum(quantity) AS entitlement
    FROM valid_subscriptions
    GROUP BY month, subscription_type, coalesce(app_id, '')
),
-- Rows, not distinct people: `consumption` holds a person at most once per (month, type,
-- app), since persons, a person's apps and a month's packs per app are each grouped to one
-- row. count(DISTINCT) gave the same number and cost a second grouping of every person, 2.4 s
-- and 1.3 GB of a cold month at 100M (BENCHMARKS.md run Z); a property test checks the
-- uniqueness (tests/it/invariants.rs).
used AS (
    SELECT month, subscription_type, coalesce(app_id, '') AS app_or_empty, count(*) AS consumption
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
  ON e.month = l.month AND e.subscription_type = l.subscription_type AND e.app_or_empty = coalesce(l.app_id, '')
LEFT JOIN used u
  ON u.month = l.month AND u.subscription_type = l.subscription_type AND u.app_or_empty = coalesce(l.app_id, '');
