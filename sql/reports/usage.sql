-- Consumption against entitlement per subscription type for one month.
SELECT month, subscription_type, app_id, entitlement, consumption, over_usage
FROM usage
WHERE month = {{month}}
ORDER BY step, app_id;
