-- Accounts per month (SPEC §4): one user record of one app, keyed by
-- (app_id, user_provider, tenant, identifier_key).
--
-- An account's attributes in a month are those of its latest counted event that month. Ties on
-- event_time are broken by event_id, then by the classification, so the result never depends on
-- the order rows were ingested in.
CREATE VIEW accounts AS
SELECT
    month,
    app_id,
    user_provider,
    tenant,
    identifier_key,
    max(event_time) AS last_event,
    first_value(event_class ORDER BY event_time DESC, event_id DESC NULLS LAST, event_class DESC) AS classification,
    first_value(name_key ORDER BY event_time DESC, event_id DESC NULLS LAST, name_key DESC) AS name_key,
    first_value(email_hash ORDER BY event_time DESC, event_id DESC NULLS LAST, email_hash DESC) AS email_hash,
    first_value(coalesce(email_domain, user_name_domain)
        ORDER BY event_time DESC, event_id DESC NULLS LAST, coalesce(email_domain, user_name_domain) DESC) AS email_domain,
    bool_and(named_user_identifier_hash IS NOT NULL) AS has_named_user_identifier
FROM counted_events
GROUP BY month, app_id, user_provider, tenant, identifier_key;
