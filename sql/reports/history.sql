-- The usage report for every month with data, oldest first.
SELECT month, subscription_type, app_id, entitlement, consumption, over_usage
FROM usage
ORDER BY month, step, app_id;
