-- Accounts per month (docs/semantics.md "Accounts"): one user record of one app, keyed by
-- (app_id, scope_environment, user_provider, tenant, identifier_key); scope_environment is the
-- environment under `dedup.scope = environment` and '' otherwise.
--
-- An account's attributes in a month are those of its latest counted event that month, all
-- from that one event: its classification (rule_class, NULL when no rule answered, so the
-- account counts Internal and is `unclassified`), what the domains rule said (for the
-- hygiene report, even when `domains` is not in the rules), its user name, e-mail and e-mail
-- domain, and its environment. Ties on event_time are broken by the greatest event_id (an
-- event without one comes last), then by the greatest attributes, compared in the order
-- listed (NULL counts as greatest), so the result never depends on the order rows were
-- ingested in. Ingest keeps one event per event_id, so only events without an id can tie.
--
-- latest(value, event_time, event_id) is exactly
--   first_value(value ORDER BY event_time DESC, event_id DESC NULLS LAST, <value's fields> DESC)
-- (a property test checks the two agree), written in Rust because DataFusion's generic ordered
-- aggregate cost as much as the grouping itself. Taking the attributes as one struct keeps one
-- time and one id per account instead of four (BENCHMARKS.md item 28).
--
-- The user name, e-mail hash and e-mail domain come from a second `latest` whose struct begins
-- with the first one's fields, so it picks an event with the same first fields (ties are broken
-- by the fields in order): together they are what one struct of all six fields gives. Only the
-- merging of accounts into persons under the OutSystems policies (30_account_owners.sql) and
-- analysts read those three. So the first fields come from the first `latest` under the Mendix
-- policy and from the second under the others, and a plan computes one of the two: under the
-- Mendix policy the month's accounts are grouped without the three and their inputs, and under
-- the OutSystems policies the second gives everything. Only an analyst who reads both kinds of
-- column under the Mendix policy computes both.
--
-- Which accounts exist is `counting.basis` (10_candidate_events.sql): under `logins` every
-- candidate counts, and under `active_records` an account exists when its latest candidate of
-- the month, anonymous ones included, is active (ties on time go to the greatest event_id,
-- then to active) and it has a named one; its attributes then come from its named
-- candidates, the events that count. The one grouping takes both: each attribute over the
-- counted candidates (`FILTER`), the state at the close over all of them. It gives what
-- grouping `counted_events` (15_counted_events.sql) would, without joining every event back
-- to its account's close (BENCHMARKS.md run AE). Under `logins` the filter and the close fold
-- away, since every candidate counts.
CREATE VIEW accounts AS
WITH grouped AS (
    SELECT
        month,
        app_id,
        scope_environment,
        user_provider,
        tenant,
        identifier_key,
        max(event_time) FILTER (WHERE {{counting_basis}} = 'logins' OR NOT anonymous) AS last_event,
        latest(
            named_struct(
                'rule_class', rule_class,
                'by_domains', by_domains,
                'environment_id', environment_id
            ),
            event_time,
            event_id
        ) FILTER (WHERE {{counting_basis}} = 'logins' OR NOT anonymous) AS latest_event,
        latest(
            named_struct(
                'rule_class', rule_class,
                'by_domains', by_domains,
                'environment_id', environment_id,
                'name_key', name_key,
                'email_hash', email_hash,
                'email_domain', coalesce(email_domain, user_name_domain)
            ),
            event_time,
            event_id
        ) FILTER (WHERE {{counting_basis}} = 'logins' OR NOT anonymous) AS latest_identity,
        bool_and(nui_key IS NOT NULL) FILTER (WHERE {{counting_basis}} = 'logins' OR NOT anonymous)
            AS has_named_user_identifier,
        latest(CASE WHEN active THEN 'true' ELSE 'false' END, event_time, event_id) AS at_close
    FROM account_candidates
    GROUP BY month, app_id, scope_environment, user_provider, tenant, identifier_key
),
chosen AS (
    SELECT
        *,
        CASE WHEN {{dedup_policy}} = 'identifier' THEN latest_event['rule_class']
             ELSE latest_identity['rule_class'] END AS rule_class,
        CASE WHEN {{dedup_policy}} = 'identifier' THEN latest_event['by_domains']
             ELSE latest_identity['by_domains'] END AS by_domains,
        CASE WHEN {{dedup_policy}} = 'identifier' THEN latest_event['environment_id']
             ELSE latest_identity['environment_id'] END AS environment_id
    FROM grouped
    WHERE {{counting_basis}} = 'logins' OR (last_event IS NOT NULL AND at_close = 'true')
)
SELECT
    month,
    app_id,
    scope_environment,
    user_provider,
    tenant,
    identifier_key,
    last_event,
    coalesce(rule_class, 'Internal') AS classification,
    rule_class IS NULL AS unclassified,
    by_domains,
    environment_id,
    latest_identity['name_key'] AS name_key,
    latest_identity['email_hash'] AS email_hash,
    latest_identity['email_domain'] AS email_domain,
    has_named_user_identifier
FROM chosen;
