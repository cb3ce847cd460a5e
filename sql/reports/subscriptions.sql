-- The subscriptions active on a day (default today), with their expiry and days left.
--
-- Active: valid_from on or before the day and valid_to empty or on or after it, as the vendors'
-- pages list the entitlements in force. app_id is the app a single-app pack serves that day
-- (`pack_assignments`; empty for a pack assigned to no app yet, and for the other types).
-- days_left counts the days from the day to valid_to, that day included in neither (0: it
-- ends today); NULL when open-ended. expiring is true within 90 days. Soonest to end first,
-- the open-ended last.
SELECT
    s.subscription_id,
    s.subscription_type,
    a.app_id,
    s.quantity,
    s.valid_from,
    s.valid_to,
    CAST(s.valid_to - {{today}} AS BIGINT) AS days_left,
    coalesce(s.valid_to - {{today}} <= 90, false) AS expiring
FROM subscriptions s
LEFT JOIN pack_assignments a
  ON s.subscription_type = 'single_app_internal'
 AND a.subscription_id = s.subscription_id
 AND a.assigned_from <= {{today}}
 AND (a.assigned_until IS NULL OR a.assigned_until >= {{today}})
WHERE s.valid_from <= {{today}}
  AND (s.valid_to IS NULL OR s.valid_to >= {{today}})
ORDER BY s.valid_to NULLS LAST, s.subscription_id;
