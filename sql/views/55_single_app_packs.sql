-- The single-app packs that count in a month, summed per app; app_id NULL gathers the packs
-- assigned to no app (they serve nobody).
CREATE VIEW single_app_packs AS
SELECT month, app_id, sum(quantity) AS entitlement
FROM valid_subscriptions
WHERE subscription_type = 'single_app_internal'
GROUP BY month, app_id;
