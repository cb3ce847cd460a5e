-- Which person each account of a month belongs to (docs/semantics.md "Persons"), by
-- `dedup.policy`, inside each scope_environment (one '' for the whole portfolio under
-- `dedup.scope = portfolio`).
--
-- identifier (Mendix): the person is the account's identifier key (its stored hash, in hex),
--   so equal identifiers across apps, providers and tenants are one person.
-- username_or_email (OutSystems 11.11.3 and later): accounts in their user provider's default
--   tenant (is_default_tenant: `dedup.default_tenants[provider]` when set, else
--   `default`, which an empty tenant is stored as) are one person when they share a user name
--   or a valid e-mail, across user providers and transitively. The transitive closure is
--   `connected_components`, a union-find aggregate (near-linear): its first argument names an
--   account, every further argument is a key that joins the accounts sharing it (NULL joins
--   nothing). It returns each account with its component's smallest account name; the person
--   is the SHA-256 of that name. An account in any other tenant is its own person per
--   (user_provider, tenant, user name).
-- account (OutSystems before 11.11.3): every (user_provider, tenant, user name) is its own
--   person; nothing merges across providers.
-- The user name is the account's own (name_key) under every identifiers.source; an account
-- without one falls back to its identifier.
--
-- Each branch names its person by a hash (`person_hash`: a SHA-256, or NULL under
-- `identifier`, where the person's hash is the identifier's own and would repeat
-- `identifier_key`). The view is `accounts` with that hash: what a month keeps of its accounts
-- (docs/derived.md), one hash a row, from which `account_persons` (31_account_persons.sql)
-- gives the person's two forms to every reader.
--
-- It keeps the columns the views after it and the reports read, and not the account's user
-- name, e-mail hash and e-mail domain: only the merging above reads those, and they were two
-- thirds of the month's kept file, written and read back on every first report about a month
-- (BENCHMARKS.md run AA). `accounts` still has them.
CREATE VIEW account_owners AS
WITH named AS (
    SELECT *, concat_ws('/', scope_environment, app_id, user_provider, tenant, encode(identifier_key, 'hex')) AS account
    FROM accounts
    WHERE {{dedup_policy}} = 'username_or_email' AND {{is_default_tenant}}
),
components AS (
    SELECT month, scope_environment, c['member'] AS account, c['component'] AS component
    FROM (
        SELECT month, scope_environment,
               unnest(connected_components(account, encode(name_key, 'hex'), encode(email_hash, 'hex'))) AS c
        FROM named
        GROUP BY month, scope_environment
    )
),
assigned AS (
    SELECT month, app_id, scope_environment, user_provider, tenant, identifier_key, last_event,
           classification, unclassified, by_domains, environment_id, has_named_user_identifier,
           -- The identifier key itself; NULL stands for it, so the kept file does not hold
           -- the same 16 bytes twice (31_account_persons.sql takes it back).
           CAST(NULL AS BYTEA) AS person_hash
    FROM accounts
    WHERE {{dedup_policy}} = 'identifier'

    UNION ALL

    SELECT n.month, n.app_id, n.scope_environment, n.user_provider, n.tenant, n.identifier_key,
           n.last_event, n.classification, n.unclassified, n.by_domains, n.environment_id,
           n.has_named_user_identifier,
           sha256(c.component) AS person_hash
    FROM named n
    JOIN components c
      ON c.month = n.month AND c.scope_environment = n.scope_environment AND c.account = n.account

    UNION ALL

    SELECT month, app_id, scope_environment, user_provider, tenant, identifier_key, last_event,
           classification, unclassified, by_domains, environment_id, has_named_user_identifier,
           sha256(concat_ws('/', user_provider, tenant, encode(coalesce(name_key, identifier_key), 'hex'))) AS person_hash
    FROM accounts
    WHERE {{dedup_policy}} = 'account'
       OR ({{dedup_policy}} = 'username_or_email' AND NOT {{is_default_tenant}})
)
SELECT * FROM assigned;
