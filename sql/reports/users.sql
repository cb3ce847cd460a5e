-- Every counted person in one month with their final classification and apps.
--
-- person_id is the person's hash; classification is after the waterfall; apps is how many apps
-- they used and app_ids which, comma-separated in order. Under `dedup.scope = environment` one
-- identifier in two environments is two persons with one person_id: two rows, grouped by the
-- person (person_key) and ordered by their apps after the id. person_apps holds each (person, app)
-- once, so neither needs DISTINCT (whose per-person sets cost gigabytes at scale).
--
-- The apps are sorted after aggregation rather than by an ordered string_agg, which keeps a
-- generic accumulator per person and ran out of memory at millions of persons (BENCHMARKS.md
-- item 25).
SELECT
    f.person_id,
    f.final_classification AS classification,
    count(*) AS apps,
    array_to_string(array_sort(array_agg(pa.app_id)), ',') AS app_ids
FROM final_persons f
JOIN person_apps pa ON pa.month = f.month AND pa.person_key = f.person_key
WHERE f.month = {{month}}
GROUP BY f.person_key, f.person_id, f.final_classification
ORDER BY f.person_id, app_ids, classification;
