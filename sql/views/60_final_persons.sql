-- The waterfall (SPEC §4): External → Single-App Internal → Multi-App Internal, per month.
--
-- 1. A person classified External is an External user only when an External subscription is
--    valid that month; without one, they fall through and count as Internal.
-- 2. Each (internal person, app) pair where the app has a valid single-app pack counts once
--    against that pack.
-- 3. Each internal person with a counted event in any app without a valid pack counts once,
--    portfolio-wide, as Multi-App Internal. A person can therefore consume a single-app pack
--    and a multi-app seat in the same month.
CREATE VIEW final_persons AS
SELECT
    p.month,
    p.person_id,
    p.person_key,
    p.classification,
    CASE WHEN p.classification = 'External' AND x.month IS NOT NULL THEN 'External' ELSE 'Internal' END
        AS final_classification
FROM persons p
LEFT JOIN (
    SELECT DISTINCT month FROM valid_subscriptions WHERE subscription_type = 'external'
) x ON x.month = p.month;

-- The apps each person used in a month (by person_key; final_persons has the person's id).
CREATE VIEW person_apps AS
SELECT DISTINCT month, person_key, app_id
FROM account_persons;
