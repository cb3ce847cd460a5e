-- Event de-duplication at ingest (docs/semantics.md "Counted events": a re-sent event counts once).
--
-- Reads `staged`, the hashed rows of one ingest for one month ($1), and keeps each event_id
-- of a source (app and environment: two apps may number their events alike) once: its first
-- occurrence in input order (the smallest `seq`), and only if neither the warehouse nor
-- `direct` holds that source's event_id for the month already. Events without an id are all
-- kept.
--
-- `direct` is the file this ingest wrote for the month before it staged any of the month's
-- rows (src/ingest/months.rs), de-duplicated the same way as the rows came; every row in it
-- came before every staged row, so its ids are first occurrences. It is empty when the
-- month was staged from the start.
--
-- Built from a grouped minimum and hash joins rather than a window over the month, so it
-- needs memory for the month's distinct ids, not a sort of all its rows. Row order in the
-- stored file means nothing to any query.
SELECT s.*
FROM staged s
LEFT JOIN (
    SELECT app_id, environment_id, event_id, min(seq) AS first_seq
    FROM staged
    WHERE event_id IS NOT NULL
    GROUP BY app_id, environment_id, event_id
) f ON f.app_id = s.app_id AND f.environment_id = s.environment_id AND f.event_id = s.event_id
WHERE s.event_id IS NULL
   OR (s.seq = f.first_seq
       AND NOT EXISTS (
            SELECT 1 FROM events e
            WHERE e.month = $1 AND e.event_id = s.event_id
              AND e.app_id = s.app_id AND e.environment_id = s.environment_id
       )
       AND NOT EXISTS (
            SELECT 1 FROM direct d
            WHERE d.event_id = s.event_id
              AND d.app_id = s.app_id AND d.environment_id = s.environment_id
       ))
