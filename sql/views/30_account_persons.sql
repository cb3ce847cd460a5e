-- Which person each account of a month belongs to (SPEC §4, `dedup.policy`).
--
-- identifier (default, Mendix): the person is the account's identifier key, so equal
--   NamedUserIdentifiers (else user names) across apps, providers and tenants are one person.
-- username_or_email (OutSystems): accounts in tenant `default` are one person when they share a
--   normalized user name or a valid e-mail, across user providers and transitively. The
--   transitive closure is `connected_components`, a union-find aggregate (near-linear), grouped
--   by month: its first argument names an account, every further argument is a key that joins
--   the accounts sharing it (NULL joins nothing). It returns each account with its component's
--   smallest account name; the person is the SHA-256 of that name.
--   An account in any other tenant is its own person per (user_provider, tenant, user name).
-- The view is `accounts` with a person_id column, and person_key: the same person as a number
-- (`hash_key`, its first 126 bits), by which the later views group and join people: cheaper
-- to hash, compare and hold than 64 characters (BENCHMARKS.md item 35).
CREATE VIEW account_persons AS
WITH named AS (
    SELECT *, concat_ws('/', app_id, user_provider, identifier_key) AS account
    FROM accounts
    WHERE {{dedup_policy}} = 'username_or_email' AND tenant = 'default'
),
components AS (
    SELECT month, c['member'] AS account, c['component'] AS component
    FROM (
        SELECT month, unnest(connected_components(account, name_key, email_hash)) AS c
        FROM named
        GROUP BY month
    )
),
assigned AS (
    SELECT month, app_id, user_provider, tenant, identifier_key, last_event, classification, name_key, email_hash, email_domain, has_named_user_identifier,
           identifier_key AS person_id
    FROM accounts
    WHERE {{dedup_policy}} = 'identifier'

    UNION ALL

    SELECT n.month, n.app_id, n.user_provider, n.tenant, n.identifier_key, n.last_event, n.classification, n.name_key, n.email_hash, n.email_domain, n.has_named_user_identifier,
           encode(sha256(c.component), 'hex') AS person_id
    FROM named n
    JOIN components c ON c.month = n.month AND c.account = n.account

    UNION ALL

    SELECT month, app_id, user_provider, tenant, identifier_key, last_event, classification, name_key, email_hash, email_domain, has_named_user_identifier,
           encode(sha256(concat_ws('/', user_provider, tenant, coalesce(name_key, identifier_key))), 'hex') AS person_id
    FROM accounts
    WHERE {{dedup_policy}} = 'username_or_email' AND tenant <> 'default'
)
SELECT *, hash_key(person_id) AS person_key
FROM assigned;
