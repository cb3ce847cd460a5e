-- Accounts per month (SPEC §4): one user record of one app, keyed by
-- (app_id, user_provider, tenant, identifier_key).
--
-- An account's attributes in a month are those of its latest counted event that month. Ties on
-- event_time are broken by the greatest event_id (an event without one comes last), then by the
-- greatest value, so the result never depends on the order rows were ingested in.
--
-- latest(value, event_time, event_id) is exactly
--   first_value(value ORDER BY event_time DESC, event_id DESC NULLS LAST, value DESC)
-- (a property test checks the two agree), written in Rust because DataFusion's generic ordered
-- aggregate cost as much as the grouping itself, once per attribute.
CREATE VIEW accounts AS
SELECT
    month,
    app_id,
    user_provider,
    tenant,
    identifier_key,
    max(event_time) AS last_event,
    latest(event_class, event_time, event_id) AS classification,
    latest(name_key, event_time, event_id) AS name_key,
    latest(email_hash, event_time, event_id) AS email_hash,
    latest(coalesce(email_domain, user_name_domain), event_time, event_id) AS email_domain,
    bool_and(named_user_identifier_hash IS NOT NULL) AS has_named_user_identifier
FROM counted_events
GROUP BY month, app_id, user_provider, tenant, identifier_key;
