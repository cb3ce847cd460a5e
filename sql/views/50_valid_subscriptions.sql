-- Subscriptions that count in each month with data (docs/semantics.md "Subscriptions").
--
-- A subscription counts for a month when it is valid on the month's last day, as the vendor's
-- usage report is calculated: valid_from on or before that day, and valid_to empty or on or
-- after it. A renewal that replaces one subscription by another mid-month therefore counts
-- once.
--
-- A single-app pack's app is the assignment in force on that day: of the pack's dated
-- assignments (its app_id in entitlements.csv from its valid_from, and its rows of
-- assignments.csv), the one with the latest date on or before the day; on the same date
-- assignments.csv wins. A pack with no assignment by then has app_id NULL: it counts, for no
-- app, and `usage` shows it with an empty app_id.
CREATE VIEW valid_subscriptions AS
WITH days AS (
    SELECT month,
           CAST(to_date(month || '-01') + INTERVAL '1 month' - INTERVAL '1 day' AS DATE) AS last_day
    FROM months
),
valid AS (
    SELECT d.month, d.last_day, s.subscription_id, s.subscription_type, s.quantity,
           s.valid_from, s.valid_to
    FROM days d
    JOIN subscriptions s
      ON s.valid_from <= d.last_day
     AND (s.valid_to IS NULL OR s.valid_to >= d.last_day)
),
dated AS (
    SELECT subscription_id, app_id, valid_from AS assigned_from, 0 AS precedence
    FROM subscriptions
    WHERE app_id IS NOT NULL
    UNION ALL
    SELECT subscription_id, app_id, assigned_from, 1
    FROM assignments
),
in_force AS (
    SELECT v.month, v.subscription_id, a.app_id,
           row_number() OVER (
               PARTITION BY v.month, v.subscription_id
               ORDER BY a.assigned_from DESC, a.precedence DESC
           ) AS rank
    FROM valid v
    JOIN dated a ON a.subscription_id = v.subscription_id AND a.assigned_from <= v.last_day
    WHERE v.subscription_type = 'single_app_internal'
)
SELECT v.month, v.subscription_id, v.subscription_type, v.quantity, v.valid_from, v.valid_to,
       a.app_id
FROM valid v
LEFT JOIN in_force a
  ON a.month = v.month AND a.subscription_id = v.subscription_id AND a.rank = 1;
