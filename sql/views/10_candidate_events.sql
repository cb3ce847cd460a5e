-- Candidate events (docs/semantics.md "Counted events", "Identifiers", "Classification"): the
-- production events an account is formed from, each with what the later steps need.
--
-- Only production events can count, and never anonymous ones. Which of the rest count is
-- `counting.basis`:
--   logins          an event counts when its user is active;
--   active_records  every event of an account counts when the account's latest production
--                   event of the month (anonymous ones included) is active, so a user
--                   deactivated before the month's last record does not count and a registered
--                   active user with no login does. Ties on time go to the greatest event_id,
--                   then to active.
-- So under `logins` the candidates are the counted events themselves, and under
-- `active_records` they are every production event with an identifier, anonymous ones
-- included: whether an account counts is known only from all of them, and its named events
-- are what it counts with. `accounts` (20_accounts.sql) decides that in its one grouping, and
-- `counted_events` (15_counted_events.sql) gives the counted events one by one. Other events
-- stay queryable in `events` but count for nothing. An event whose identifier is empty under
-- `identifiers.source` (no user name under `name`) belongs to no account and is no candidate.
--
-- Each candidate carries:
--   identifier_key    the account's identifier, chosen by `identifiers.source` (the
--                     NamedUserIdentifier when present, else the user name; or the user name
--                     only) in the `identifiers.case` form (exact, sensitive, insensitive);
--   nui_key           the NamedUserIdentifier in that form (NULL when there is none);
--   name_key          the user name in that form (the `username_or_email` and `account`
--                     policies compare user names);
--   scope_environment the environment under `dedup.scope = environment`, else '': persons
--                     are formed inside it;
--   by_<rule>         each classification rule's answer ('External', 'Internal', or NULL when
--                     the rule does not answer);
--   rule_class        the first answer in the configured rule order, NULL when none answered;
--   event_class       rule_class, or Internal when no rule answered.
--
-- {{placeholders}} are filled from seatcount.toml as SQL literals before the view is created;
-- per-app and per-environment lists arrive as a CASE over app_id or environment_id. Choices
-- are written `CASE WHEN {{key}} = 'value'`, which the planner folds to the one branch the
-- configuration takes, so a query reads only the stored columns that branch needs.
-- {{month_scope}} is TRUE, or `month = 'YYYY-MM'` when a report about one month installs the
-- views for that month only.
--
-- The file makes two views ({{view}} over {{events}}): `candidate_events` over every event,
-- under `counted_events`, and `account_candidates` over the configuration-free layer
-- `latest_events` (05_latest_stored.sql), which holds every row an account, a person's
-- environments or the hygiene checks take something from, so the views after it read that
-- and not the month.
CREATE VIEW {{view}} AS
WITH production AS (
    SELECT
        e.*,
        CASE
            WHEN {{case}} = 'exact' THEN
                CASE WHEN {{source}} = 'name' THEN e.user_name_exact_hash
                     ELSE coalesce(e.named_user_identifier_exact_hash, e.user_name_exact_hash) END
            WHEN {{case}} = 'sensitive' THEN
                CASE WHEN {{source}} = 'name' THEN e.user_name_cs_hash
                     ELSE coalesce(e.named_user_identifier_cs_hash, e.user_name_cs_hash) END
            ELSE
                CASE WHEN {{source}} = 'name' THEN e.user_name_hash
                     ELSE coalesce(e.named_user_identifier_hash, e.user_name_hash) END
        END AS identifier_key,
        CASE
            WHEN {{case}} = 'exact' THEN e.named_user_identifier_exact_hash
            WHEN {{case}} = 'sensitive' THEN e.named_user_identifier_cs_hash
            ELSE e.named_user_identifier_hash
        END AS nui_key,
        CASE
            WHEN {{case}} = 'exact' THEN e.user_name_exact_hash
            WHEN {{case}} = 'sensitive' THEN e.user_name_cs_hash
            ELSE e.user_name_hash
        END AS name_key,
        -- '' taken from a column, not written as a literal: DataFusion takes a constant
        -- grouping column for a sorted one, and a partial aggregate over input it thinks
        -- sorted cannot hand its groups on early when the memory pool is full, so the
        -- month's account grouping failed instead of spilling (BENCHMARKS.md run T).
        CASE
            WHEN {{dedup_scope}} = 'environment' THEN e.environment_id
            ELSE coalesce(left(e.environment_id, 0), '')
        END AS scope_environment
    FROM {{events}} e
    WHERE e.environment_type = 'production'
      AND {{month_scope}}
),
candidates AS (
    SELECT * FROM production
    WHERE identifier_key IS NOT NULL
      AND ({{counting_basis}} = 'active_records' OR (active AND NOT anonymous))
),
answered AS (
    SELECT
        *,
        -- roles: answers when external roles are configured for the app (its own list, else
        -- the global one) and the event's roles are known; exact, case-sensitive match.
        CASE
            WHEN NOT {{has_external_roles}} OR roles IS NULL OR cardinality(roles) = 0 THEN NULL
            WHEN array_has_any(roles, {{external_roles}}) THEN 'External'
            ELSE 'Internal'
        END AS by_roles,
        -- custom: the configured boolean expression; NULL does not answer.
        CASE ({{custom_sql}})
            WHEN true THEN 'External'
            WHEN false THEN 'Internal'
        END AS by_custom,
        -- domains: answers when internal domains are configured for the environment (its own
        -- list, else the global one): the e-mail's domain, else the user name's if it is an
        -- address; no valid address is Internal; only an exact match is Internal, so a
        -- subdomain is another domain.
        CASE
            WHEN NOT {{has_internal_domains}} THEN NULL
            WHEN coalesce(email_domain, user_name_domain) IS NULL THEN 'Internal'
            WHEN array_has({{internal_domains}}, coalesce(email_domain, user_name_domain)) THEN 'Internal'
            ELSE 'External'
        END AS by_domains,
        -- reported: the user type the app itself set; empty does not answer.
        user_type AS by_reported
    FROM candidates
)
SELECT *, coalesce(rule_class, 'Internal') AS event_class
FROM (SELECT *, {{rule_order}} AS rule_class FROM answered);
