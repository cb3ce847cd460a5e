-- Which app each single-app pack serves, and over which days (docs/semantics.md
-- "Subscriptions"): one row per dated assignment, from its date to the day before the pack's
-- next one (assigned_until NULL: still in force).
--
-- A pack's dated assignments are its app_id in entitlements.csv, from its valid_from, and its
-- rows of assignments.csv. On one date assignments.csv wins: the entry it outranks ends the day
-- before it starts, so it serves no day. The app in force on a day is the row whose days hold
-- it; a pack with none by then serves no app.
CREATE VIEW pack_assignments AS
WITH dated AS (
    SELECT subscription_id, app_id, valid_from AS assigned_from, 0 AS precedence
    FROM subscriptions
    WHERE app_id IS NOT NULL
    UNION ALL
    SELECT subscription_id, app_id, assigned_from, 1
    FROM assignments
)
SELECT
    subscription_id,
    app_id,
    assigned_from,
    CAST(lead(assigned_from) OVER (
        PARTITION BY subscription_id ORDER BY assigned_from, precedence
    ) - INTERVAL '1 day' AS DATE) AS assigned_until
FROM dated;
