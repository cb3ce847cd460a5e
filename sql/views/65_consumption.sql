-- The seats each person consumes (docs/semantics.md "Waterfall"), from `final_persons` and
-- `person_apps`: one row per (month, subscription type, app, person) that consumes a seat.
--
-- Waterfall on:
-- 1. External: each External person, once portfolio-wide.
-- 2. Single-App Internal: each internal person, once against each app they used whose
--    assigned pack counts for the month.
-- 3. Multi-App Internal: the remaining internal persons, once portfolio-wide.
--    `waterfall.mixed` decides for a person who used an app with a pack and one without:
--      single_app  Single-App users only (the vendor's documented sequence);
--      multi_app   Multi-App only, against no pack (a Multi-App seat covers every app);
--      both        against each pack and once as Multi-App.
-- Waterfall off: `internal` and `external`, each person once by their classification.
CREATE VIEW consumption AS
SELECT month, lower(final_classification) AS subscription_type, CAST(NULL AS VARCHAR) AS app_id, person_key
FROM final_persons
WHERE NOT {{waterfall_enabled}}

UNION ALL

SELECT month, 'external', CAST(NULL AS VARCHAR), person_key
FROM final_persons
WHERE {{waterfall_enabled}} AND final_classification = 'External'

UNION ALL

SELECT pa.month, 'single_app_internal', pa.app_id, pa.person_key
FROM person_apps pa
JOIN final_persons f ON f.month = pa.month AND f.person_key = pa.person_key
JOIN single_app_packs s ON s.month = pa.month AND s.app_id = pa.app_id
WHERE {{waterfall_enabled}} AND f.final_classification = 'Internal'
  AND (NOT f.uses_other OR {{mixed}} <> 'multi_app')

UNION ALL

SELECT month, 'multi_app_internal', CAST(NULL AS VARCHAR), person_key
FROM final_persons
WHERE {{waterfall_enabled}} AND final_classification = 'Internal' AND uses_other
  AND (NOT uses_pack OR {{mixed}} <> 'single_app');
