-- Subscriptions valid in each month with data (SPEC §4–5).
--
-- `subscriptions` is entitlements.csv as loaded (and validated) by seatcount. A subscription is
-- valid in a month when its validity interval [valid_from, valid_to] overlaps the month; an
-- empty valid_to is open-ended.
CREATE VIEW months AS
SELECT DISTINCT month FROM events WHERE {{month_scope}};

CREATE VIEW valid_subscriptions AS
SELECT m.month, s.*
FROM months m
JOIN subscriptions s
  ON s.valid_from < to_date(m.month || '-01') + INTERVAL '1 month'
 AND (s.valid_to IS NULL OR s.valid_to >= to_date(m.month || '-01'));

-- The apps with a valid single-app pack in a month, and the pack sizes.
CREATE VIEW single_app_packs AS
SELECT month, app_id, sum(quantity) AS entitlement
FROM valid_subscriptions
WHERE subscription_type = 'single_app_internal' AND app_id IS NOT NULL
GROUP BY month, app_id;
