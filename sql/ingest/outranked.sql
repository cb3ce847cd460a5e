-- A file of one row per event id (a month's stored events, or an ingest's direct file, held
-- as `earlier`) without the rows a version from this ingest outranked (`contested.sql`, place
-- above 1, whose first place, `origin`, is $1: 0 stored, 1 direct). The file holds one row per
-- id, so its id names the row.
SELECT {{stored_columns}}
FROM earlier e
WHERE e.event_id IS NULL
   OR NOT EXISTS (
        SELECT 1 FROM contested c
        WHERE c.place > 1 AND c.origin = $1
          AND c.event_id = e.event_id AND c.app_id = e.app_id AND c.environment_id = e.environment_id
   )
