-- The month's production events that any configuration's accounts can take something from
-- (docs/derived.md "The configuration-free layer"), as stored: the layer of derived state
-- that no key of seatcount.toml changes, so a configuration change recomputes the accounts
-- from these rows, not from the month's events.
--
-- Events are grouped by the finest account any configuration can form: month, app,
-- environment, user provider, tenant, the exact NamedUserIdentifier, the exact user name and
-- the e-mail. Every configuration's account is a union of such groups (a coarser case form, a
-- chosen identifier source, `dedup.scope = portfolio`), and what an account takes from its
-- events is the greatest or latest of something over a set of them, so it can be taken from
-- each group's latest rows of that set. A group keeps every row at the latest time of:
--   every event           the account's state at the close under `counting.basis =
--                         active_records` (anonymous events included);
--   its named events      what an account counted under active_records takes, its last
--                         counted event and time;
--   its logins            the same under `counting.basis = logins` (active, not anonymous).
-- Rows tied at that time are all kept, since which of them an account takes can depend on
-- the configuration (20_accounts.sql). The e-mail is in the group so that the hygiene
-- report's per-app e-mails survive, and the exact forms so that its spellings do; what is
-- kept is a subset of the events, so a distinct set of counted rows, a latest row and a
-- latest time are those of the month's events (a property test compares every report with
-- and without derived state).
--
-- It reads `stored_events`, the files' own form, and keeps it, so `latest_events` gives the
-- identifier forms back as `events` does (sql/tables/stored.sql). {{month_scope}} is TRUE or
-- one month.
CREATE VIEW latest_stored AS
WITH production AS (
    SELECT
        *,
        coalesce(named_user_identifier_exact_hash, named_user_identifier_cs_hash, named_user_identifier_hash) AS g_nui,
        coalesce(user_name_exact_hash, user_name_cs_hash, user_name_hash) AS g_name
    FROM stored_events
    WHERE environment_type = 'production'
      AND {{month_scope}}
),
latest AS (
    SELECT
        month AS l_month, app_id AS l_app, environment_id AS l_environment,
        user_provider AS l_provider, tenant AS l_tenant, g_nui AS l_nui, g_name AS l_name,
        email_hash AS l_email,
        max(event_time) AS any_time,
        max(event_time) FILTER (WHERE NOT anonymous) AS named_time,
        max(event_time) FILTER (WHERE active AND NOT anonymous) AS login_time
    FROM production
    GROUP BY month, app_id, environment_id, user_provider, tenant, g_nui, g_name, email_hash
)
SELECT {{stored_columns}}, month
-- The groups first: the join's build side, smaller than the events it probes with.
FROM latest
JOIN production
  -- One kind of comparison for every key, so all of them are the join's hash keys (three can
  -- be NULL, and NULL is a key here).
  ON (l_month IS NOT DISTINCT FROM month) AND (l_app IS NOT DISTINCT FROM app_id)
 AND (l_environment IS NOT DISTINCT FROM environment_id)
 AND (l_provider IS NOT DISTINCT FROM user_provider) AND (l_tenant IS NOT DISTINCT FROM tenant)
 AND (l_nui IS NOT DISTINCT FROM g_nui) AND (l_name IS NOT DISTINCT FROM g_name)
 AND (l_email IS NOT DISTINCT FROM email_hash)
WHERE event_time = any_time OR event_time = named_time OR event_time = login_time;
