-- Event de-duplication at ingest (SPEC §1: "re-sent events with the same id count once").
--
-- Reads `staged`, the hashed rows of one ingest for one month ($1), and keeps each
-- event_id once: the first occurrence in input order (`seq`), and only if the warehouse
-- does not hold that event_id for the month already. Events without an id are all kept.
SELECT * EXCLUDE (copy)
FROM (
    SELECT
        s.*,
        row_number() OVER (PARTITION BY s.event_id ORDER BY s.seq) AS copy
    FROM staged s
    WHERE s.event_id IS NULL
       OR s.event_id NOT IN (
            SELECT e.event_id FROM events e WHERE e.month = $1 AND e.event_id IS NOT NULL
       )
)
WHERE event_id IS NULL OR copy = 1
ORDER BY seq
