-- `users` under the configuration in force and under a what-if, side by side.
--
-- `current` and `what_if` are the report's rows under each (docs/semantics.md "What-if"). One
-- row per person_id of either, and what happened to them in the what-if:
--   added         a person only the what-if counts (e.g. accounts it no longer merges);
--   gone          a person the what-if does not count as such (merged into another, or no
--                 longer counted);
--   reclassified  counted in both, with another classification;
--   apps          counted in both, in other apps;
--   ''            the same in both.
SELECT
    coalesce(c.person_id, w.person_id) AS person_id,
    c.classification,
    w.classification AS what_if_classification,
    c.apps,
    w.apps AS what_if_apps,
    c.app_ids,
    w.app_ids AS what_if_app_ids,
    CASE
        WHEN c.person_id IS NULL THEN 'added'
        WHEN w.person_id IS NULL THEN 'gone'
        WHEN c.classification <> w.classification THEN 'reclassified'
        WHEN c.app_ids <> w.app_ids THEN 'apps'
        ELSE ''
    END AS change
FROM current c
FULL JOIN what_if w ON w.person_id = c.person_id
ORDER BY person_id;
