-- Normalization and hashing at ingest (docs/input.md): the privacy boundary.
--
-- Reads `incoming`, validated rows of one input chunk that still hold clear identifiers in
-- memory, and produces the stored event columns plus `fingerprint` (a hash of
-- the row's validated values, which ingest uses to drop exact repeats and does not store). Only this query's output is
-- written to disk, so every clear identifier is hashed here and dropped. Ingest puts each row
-- in the partition of its `event_time`'s UTC month (src/ingest/by_month.rs).
--
-- The user name and the NamedUserIdentifier are each stored in the three forms of
-- `identifiers.case` (docs/semantics.md "Identifiers"), so the setting and
-- `identifiers.source` can change without re-ingesting: `*_hash` (NFKC, trimmed,
-- lowercased), `*_cs_hash` (NFKC, trimmed, case kept) and `*_exact_hash` (exactly as given;
-- only the empty string is empty). A form that equals the one before it is stored as NULL,
-- and `sql/tables/stored.sql` gives it back: most identifiers are the same in every form. Comparing the forms is how the hygiene report finds
-- identifiers that differ only by case or white space. Pre-hashed input (`*_hash` columns, 64
-- hex digits) stands in for all three forms, in the stored form: its first 16 bytes, which is
-- what `hash_identifier` gives for the same value (docs/input.md "What lands on disk"). Roles
-- that are missing or empty are unknown: validation has already made them NULL
-- (src/ingest/validate.rs).
--
-- Hashing is the cost of ingest, so each row hashes as few distinct strings as it can: the
-- lowercased forms are hashed once (`hashed`), another form only where it differs, and the
-- e-mail reuses the user name's hash whenever it is the same string (most e-mails equal the
-- user name where users log in by e-mail).
WITH forms AS (
    SELECT
        *,
        normalize_identifier(user_name, 'insensitive') AS name_ci,
        normalize_identifier(user_name, 'sensitive') AS name_cs,
        normalize_identifier(named_user_identifier, 'insensitive') AS nui_ci,
        normalize_identifier(named_user_identifier, 'sensitive') AS nui_cs,
        -- `normalize_identifier(x, 'exact')`, without copying the text: only the empty string
        -- becomes NULL.
        nullif(user_name, '') AS name_exact,
        nullif(named_user_identifier, '') AS nui_exact,
        normalize_email(email) AS email_normalized
    FROM incoming
),
hashed AS (
    SELECT
        *,
        hash_identifier(name_ci) AS name_ci_hash,
        hash_identifier(nui_ci) AS nui_ci_hash,
        arrow_cast(decode(left(user_name_hash, 32), 'hex'), 'FixedSizeBinary(16)') AS name_given,
        arrow_cast(decode(left(named_user_identifier_hash, 32), 'hex'), 'FixedSizeBinary(16)') AS nui_given,
        arrow_cast(decode(left(email_hash, 32), 'hex'), 'FixedSizeBinary(16)') AS email_given
    FROM forms
)
SELECT
    fingerprint,
    nullif(trim(event_id), '') AS event_id,
    event_time,
    trim(app_id) AS app_id,
    nullif(trim(app_name), '') AS app_name,
    trim(environment_id) AS environment_id,
    nullif(trim(environment_name), '') AS environment_name,
    coalesce(lower(nullif(trim(environment_type), '')), 'production') AS environment_type,
    nullif(trim(deployment_type), '') AS deployment_type,
    coalesce(trim(user_provider), '') AS user_provider,
    coalesce(nullif(trim(tenant), ''), 'default') AS tenant,
    coalesce(name_ci_hash, name_given) AS user_name_hash,
    CASE WHEN name_cs IS NOT DISTINCT FROM name_ci THEN NULL ELSE hash_identifier(name_cs) END
        AS user_name_cs_hash,
    CASE WHEN name_exact IS NOT DISTINCT FROM name_cs THEN NULL ELSE hash_identifier(name_exact) END
        AS user_name_exact_hash,
    coalesce(nui_ci_hash, nui_given) AS named_user_identifier_hash,
    CASE WHEN nui_cs IS NOT DISTINCT FROM nui_ci THEN NULL ELSE hash_identifier(nui_cs) END
        AS named_user_identifier_cs_hash,
    CASE WHEN nui_exact IS NOT DISTINCT FROM nui_cs THEN NULL ELSE hash_identifier(nui_exact) END
        AS named_user_identifier_exact_hash,
    coalesce(
        CASE WHEN email_normalized = name_ci THEN name_ci_hash ELSE hash_identifier(email_normalized) END,
        email_given
    ) AS email_hash,
    -- `email_domain(email)`, from the address already normalized (a valid one has one `@`).
    coalesce(split_part(email_normalized, '@', 2), lower(nullif(trim(email_domain_given), ''))) AS email_domain,
    email_domain(user_name) AS user_name_domain,
    user_type,
    roles,
    coalesce(active, true) AS active,
    coalesce(anonymous, false) AS anonymous
FROM hashed
