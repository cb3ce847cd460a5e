-- Counted events (docs/semantics.md "Counted events"): the candidate events
-- (10_candidate_events.sql) that count, one by one, for the readers that take something from
-- each event (a person's environments, `named-users`, the hygiene checks, analysts).
--
-- Under `counting.basis = logins` every candidate counts. Under `active_records`, the named
-- (not anonymous) candidates of an account count when the account's latest candidate of the
-- month, anonymous ones included, is active; ties on time go to the greatest event_id, then
-- to active. `accounts` (20_accounts.sql) applies the same rule in its own grouping, and does
-- not read this view: joining every event back to its account's close cost a cold month under
-- the OutSystems profile more than its accounts did (BENCHMARKS.md run AE).
--
-- The file makes two views ({{view}} over {{candidates}}): `counted_events` over
-- `candidate_events` (every event), and `account_events` over `account_candidates` (the
-- configuration-free layer where a month keeps one).
CREATE VIEW {{view}} AS
WITH closing AS (
    SELECT month, app_id, scope_environment, user_provider, tenant, identifier_key,
           latest(CASE WHEN active THEN 'true' ELSE 'false' END, event_time, event_id) = 'true'
               AS active_at_close
    FROM {{candidates}}
    WHERE {{counting_basis}} = 'active_records'
    GROUP BY month, app_id, scope_environment, user_provider, tenant, identifier_key
)
SELECT * FROM {{candidates}}
WHERE {{counting_basis}} = 'logins'

UNION ALL

SELECT c.* FROM {{candidates}} c
JOIN closing a
  ON a.month = c.month AND a.app_id = c.app_id AND a.scope_environment = c.scope_environment
 AND a.user_provider = c.user_provider AND a.tenant = c.tenant
 AND a.identifier_key = c.identifier_key
WHERE {{counting_basis}} = 'active_records' AND a.active_at_close AND NOT c.anonymous;
