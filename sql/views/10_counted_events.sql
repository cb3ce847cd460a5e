-- Counted events (SPEC §4): what licensing is computed from.
--
-- An event counts when it happened in production, by an active, non-anonymous user. Other
-- events stay queryable in `events` but count for nothing.
--
-- Each counted event also carries what the later steps need:
--   identifier_key   the account's identifier: NamedUserIdentifier when present, else the user
--                    name, normalized (case per `identifiers.case`) and hashed;
--   name_key         the normalized user name's hash (the `username_or_email` policy);
--   by_<rule>        each classification rule's answer for this event ('External',
--                    'Internal', or NULL when the rule does not answer);
--   event_class      the first answer in the configured rule order, Internal when none.
--
-- {{placeholders}} are filled from seatcount.toml as SQL literals before the view is created.
-- {{month_scope}} is TRUE, or `month = 'YYYY-MM'` when a report about one month installs the
-- views for that month only.
CREATE VIEW counted_events AS
SELECT
    *,
    coalesce({{rule_order}}, 'Internal') AS event_class
FROM (
    SELECT
        e.*,
        CASE WHEN {{case_sensitive}}
            THEN coalesce(e.named_user_identifier_cs_hash, e.user_name_cs_hash)
            ELSE coalesce(e.named_user_identifier_hash, e.user_name_hash)
        END AS identifier_key,
        CASE WHEN {{case_sensitive}} THEN e.user_name_cs_hash ELSE e.user_name_hash END AS name_key,
        -- roles: answers only when external_roles is configured; exact, case-sensitive match.
        CASE
            WHEN NOT {{has_external_roles}} THEN NULL
            WHEN array_has_any(e.roles, {{external_roles}}) THEN 'External'
            ELSE 'Internal'
        END AS by_roles,
        -- custom: the configured boolean expression; NULL does not answer.
        CASE ({{custom_sql}})
            WHEN true THEN 'External'
            WHEN false THEN 'Internal'
        END AS by_custom,
        -- domains: the e-mail's domain, else the user name's if it is an address; no valid
        -- address is Internal; only an exact match with a listed domain is Internal.
        CASE
            WHEN NOT {{has_internal_domains}} THEN NULL
            WHEN coalesce(e.email_domain, e.user_name_domain) IS NULL THEN 'Internal'
            WHEN array_has({{internal_domains}}, coalesce(e.email_domain, e.user_name_domain)) THEN 'Internal'
            ELSE 'External'
        END AS by_domains,
        -- reported: the user type the app itself set; empty does not answer.
        e.user_type AS by_reported
    FROM events e
    WHERE e.environment_type = 'production'
      AND e.active
      AND NOT e.anonymous
      AND {{month_scope}}
);
