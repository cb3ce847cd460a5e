-- Subscriptions that count in each month with data (docs/semantics.md "Subscriptions").
--
-- A subscription counts for a month when it is valid on the month's last day, as the vendor's
-- usage report is calculated: valid_from on or before that day, and valid_to empty or on or
-- after it. A renewal that replaces one subscription by another mid-month therefore counts
-- once.
--
-- A single-app pack's app is the assignment in force on that day (`pack_assignments`). A pack
-- with no assignment by then has app_id NULL: it counts, for no app, and `usage` shows it with
-- an empty app_id.
--
-- unit_price and currency are the subscription's price of one user for one month, when
-- entitlements.csv gives one (the `cost` report).
CREATE VIEW valid_subscriptions AS
WITH days AS (
    SELECT month,
           CAST(to_date(month || '-01') + INTERVAL '1 month' - INTERVAL '1 day' AS DATE) AS last_day
    FROM months
)
SELECT d.month, s.subscription_id, s.subscription_type, s.quantity, s.valid_from, s.valid_to,
       a.app_id, s.unit_price, s.currency
FROM days d
JOIN subscriptions s
  ON s.valid_from <= d.last_day
 AND (s.valid_to IS NULL OR s.valid_to >= d.last_day)
LEFT JOIN pack_assignments a
  ON s.subscription_type = 'single_app_internal'
 AND a.subscription_id = s.subscription_id
 AND a.assigned_from <= d.last_day
 AND (a.assigned_until IS NULL OR a.assigned_until >= d.last_day);
