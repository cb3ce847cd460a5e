-- Accounts per month (SPEC §4): one user record of one app, keyed by
-- (app_id, user_provider, tenant, identifier_key).
--
-- An account's attributes in a month are those of its latest counted event that month, all four
-- from that one event. Ties on event_time are broken by the greatest event_id (an event without
-- one comes last), then by the greatest attributes, compared in the order listed (classification,
-- name_key, email_hash, email_domain; NULL counts as greatest), so the result never depends on
-- the order rows were ingested in. Ingest keeps one event per event_id, so only events without
-- an id can tie.
--
-- latest(value, event_time, event_id) is exactly
--   first_value(value ORDER BY event_time DESC, event_id DESC NULLS LAST, <value's fields> DESC)
-- (a property test checks the two agree), written in Rust because DataFusion's generic ordered
-- aggregate cost as much as the grouping itself. Taking the attributes as one struct keeps one
-- time and one id per account instead of four (BENCHMARKS.md item 28).
CREATE VIEW accounts AS
SELECT
    month,
    app_id,
    user_provider,
    tenant,
    identifier_key,
    last_event,
    latest_event['classification'] AS classification,
    latest_event['name_key'] AS name_key,
    latest_event['email_hash'] AS email_hash,
    latest_event['email_domain'] AS email_domain,
    has_named_user_identifier
FROM (
    SELECT
        month,
        app_id,
        user_provider,
        tenant,
        identifier_key,
        max(event_time) AS last_event,
        latest(
            named_struct(
                'classification', event_class,
                'name_key', name_key,
                'email_hash', email_hash,
                'email_domain', coalesce(email_domain, user_name_domain)
            ),
            event_time,
            event_id
        ) AS latest_event,
        bool_and(named_user_identifier_hash IS NOT NULL) AS has_named_user_identifier
    FROM counted_events
    GROUP BY month, app_id, user_provider, tenant, identifier_key
);
