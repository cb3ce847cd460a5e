-- Normalization and hashing at ingest (SPEC §1–2): the privacy boundary.
--
-- Reads `incoming`, validated rows of one input chunk that still hold clear identifiers in
-- memory, and produces the stored event columns plus `month`. Only this query's output is
-- written to disk, so every clear identifier is hashed here and dropped.
--
-- Each identifier is stored in two normalized forms so `identifiers.case` can change
-- without re-ingesting: `*_hash` (NFKC, trimmed, lowercased) and `*_cs_hash` (NFKC, trimmed,
-- case kept). `identifier_exact_hash` hashes the identifier exactly as it came, so the
-- hygiene report can find people whose identifiers differ only by case or white space.
-- Pre-hashed input (`*_hash` columns) stands in for both forms.
SELECT
    seq,
    nullif(trim(event_id), '') AS event_id,
    event_time,
    to_char(event_time, '%Y-%m') AS month,
    trim(app_id) AS app_id,
    nullif(trim(app_name), '') AS app_name,
    trim(environment_id) AS environment_id,
    nullif(trim(environment_name), '') AS environment_name,
    coalesce(lower(nullif(trim(environment_type), '')), 'production') AS environment_type,
    nullif(trim(deployment_type), '') AS deployment_type,
    coalesce(trim(user_provider), '') AS user_provider,
    coalesce(nullif(trim(tenant), ''), 'default') AS tenant,
    coalesce(hash_identifier(normalize_identifier(user_name, 'insensitive')), user_name_hash) AS user_name_hash,
    coalesce(hash_identifier(normalize_identifier(user_name, 'sensitive')), user_name_hash) AS user_name_cs_hash,
    coalesce(hash_identifier(normalize_identifier(named_user_identifier, 'insensitive')), named_user_identifier_hash)
        AS named_user_identifier_hash,
    coalesce(hash_identifier(normalize_identifier(named_user_identifier, 'sensitive')), named_user_identifier_hash)
        AS named_user_identifier_cs_hash,
    coalesce(
        hash_identifier(CASE WHEN trim(named_user_identifier) <> '' THEN named_user_identifier ELSE user_name END),
        named_user_identifier_hash,
        user_name_hash
    ) AS identifier_exact_hash,
    coalesce(hash_identifier(normalize_email(email)), email_hash) AS email_hash,
    coalesce(email_domain(email), lower(nullif(trim(email_domain_given), ''))) AS email_domain,
    email_domain(user_name) AS user_name_domain,
    user_type,
    coalesce(roles, make_array()) AS roles,
    coalesce(active, true) AS active,
    coalesce(anonymous, false) AS anonymous
FROM incoming
