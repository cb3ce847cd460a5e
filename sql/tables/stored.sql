-- A stored table as analysts and the views read it (docs/input.md "What lands on disk").
--
-- On disk, the `sensitive` and `exact` forms of an identifier are NULL wherever they equal
-- the form before them (`user_name_cs_hash` where it equals `user_name_hash`,
-- `user_name_exact_hash` where it equals the `sensitive` form): for all but the case and
-- white-space variants they do, and a NULL takes no space where a 16-byte hash takes 16 bytes.
-- This view gives every form back whole, so no query needs to know: each form is the stored
-- one or, where that is NULL, the form before it. The forms are computed by ingest from one
-- value, so a form is NULL only when it equals the one before or when the value is missing
-- altogether, and then the one before is NULL too.
CREATE VIEW {{view}} AS
SELECT
    event_id,
    event_time,
    app_id,
    app_name,
    environment_id,
    environment_name,
    environment_type,
    deployment_type,
    user_provider,
    tenant,
    user_name_hash,
    coalesce(user_name_cs_hash, user_name_hash) AS user_name_cs_hash,
    coalesce(user_name_exact_hash, user_name_cs_hash, user_name_hash) AS user_name_exact_hash,
    named_user_identifier_hash,
    coalesce(named_user_identifier_cs_hash, named_user_identifier_hash)
        AS named_user_identifier_cs_hash,
    coalesce(named_user_identifier_exact_hash, named_user_identifier_cs_hash, named_user_identifier_hash)
        AS named_user_identifier_exact_hash,
    email_hash,
    email_domain,
    user_name_domain,
    user_type,
    roles,
    active,
    anonymous,
    month
FROM {{stored}}
