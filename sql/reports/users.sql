-- Every counted person in one month with their final classification and apps.
--
-- person_id is the person's hash; classification is after the waterfall; apps is how many apps
-- they used and app_ids which, comma-separated in order. person_apps holds each (person, app)
-- once, so neither needs DISTINCT (whose per-person sets cost gigabytes at scale).
SELECT
    f.person_id,
    f.final_classification AS classification,
    count(*) AS apps,
    string_agg(pa.app_id, ',' ORDER BY pa.app_id) AS app_ids
FROM final_persons f
JOIN person_apps pa ON pa.month = f.month AND pa.person_id = f.person_id
WHERE f.month = {{month}}
GROUP BY f.person_id, f.final_classification
ORDER BY f.person_id;
