-- Every counted person in one month with their final classification and apps.
--
-- person_id is the person's hash; classification is after the waterfall; apps is how many apps
-- they used and app_ids which, comma-separated in order. person_apps holds each (person, app)
-- once, so neither needs DISTINCT (whose per-person sets cost gigabytes at scale).
--
-- Two things keep this within the memory pool at millions of persons (BENCHMARKS.md item 25):
-- - the apps are sorted after aggregation, because an ordered string_agg keeps a generic
--   accumulator per person;
-- - every column is computed afresh (substr(x, 1), + 0) before the final sort. The aggregate
--   hands out its groups as slices of one large array, and the sort charges each slice for the
--   whole array (DataFusion issue #19679), so it ran out of the pool with little data held.
SELECT person_id, classification, apps, app_ids
FROM (
    SELECT
        substr(f.person_id, 1) AS person_id,
        substr(f.final_classification, 1) AS classification,
        count(*) + 0 AS apps,
        array_to_string(array_sort(array_agg(pa.app_id)), ',') AS app_ids
    FROM final_persons f
    JOIN person_apps pa ON pa.month = f.month AND pa.person_id = f.person_id
    WHERE f.month = {{month}}
    GROUP BY f.person_id, f.final_classification
)
ORDER BY person_id;
