-- `usage` (or `history`) under the configuration in force and under a what-if, side by side.
--
-- `current` and `what_if` are the report's rows under each (docs/semantics.md "What-if").
-- One row per usage line of either; a line only one of them has (the waterfall switched on or
-- off, a pack's app) has NULL on the other side, and its change counts that side as 0.
-- entitlement does not depend on the configuration, so it is shown once. The rows keep the
-- report's order: month, then external, the packs, multi-app (or internal), then app.
SELECT
    coalesce(c.month, w.month) AS month,
    coalesce(c.subscription_type, w.subscription_type) AS subscription_type,
    coalesce(c.app_id, w.app_id) AS app_id,
    coalesce(c.entitlement, w.entitlement) AS entitlement,
    c.consumption,
    w.consumption AS what_if_consumption,
    coalesce(w.consumption, 0) - coalesce(c.consumption, 0) AS consumption_change,
    c.over_usage,
    w.over_usage AS what_if_over_usage,
    coalesce(w.over_usage, 0) - coalesce(c.over_usage, 0) AS over_usage_change
FROM current c
FULL JOIN what_if w
  ON w.month = c.month
 AND w.subscription_type = c.subscription_type
 AND coalesce(w.app_id, '') = coalesce(c.app_id, '')
ORDER BY
    month,
    CASE subscription_type WHEN 'external' THEN 1 WHEN 'multi_app_internal' THEN 3 ELSE 2 END,
    app_id;
