-- The waterfall's seats (SPEC §4; the rules are in 60_final_persons.sql), from `final_persons`
-- and `person_apps`.
--
-- One row per (month, subscription type, app, person) that consumes a seat.
CREATE VIEW consumption AS
SELECT month, 'external' AS subscription_type, CAST(NULL AS VARCHAR) AS app_id, person_key
FROM final_persons
WHERE final_classification = 'External'

UNION ALL

SELECT pa.month, 'single_app_internal', pa.app_id, pa.person_key
FROM person_apps pa
JOIN final_persons f ON f.month = pa.month AND f.person_key = pa.person_key
JOIN single_app_packs s ON s.month = pa.month AND s.app_id = pa.app_id
WHERE f.final_classification = 'Internal'

UNION ALL

SELECT DISTINCT pa.month, 'multi_app_internal', CAST(NULL AS VARCHAR), pa.person_key
FROM person_apps pa
JOIN final_persons f ON f.month = pa.month AND f.person_key = pa.person_key
LEFT JOIN single_app_packs s ON s.month = pa.month AND s.app_id = pa.app_id
WHERE f.final_classification = 'Internal' AND s.app_id IS NULL;
