-- Event de-duplication at ingest (SPEC §1: "re-sent events with the same id count once").
--
-- Reads `staged`, the hashed rows of one ingest for one month ($1), and keeps each
-- event_id once: its first occurrence in input order (the smallest `seq`), and only if
-- neither the warehouse nor `direct` holds that event_id for the month already. Events
-- without an id are all kept.
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
    SELECT event_id, min(seq) AS first_seq
    FROM staged
    WHERE event_id IS NOT NULL
    GROUP BY event_id
) f ON f.event_id = s.event_id
WHERE s.event_id IS NULL
   OR (s.seq = f.first_seq
       AND s.event_id NOT IN (
            SELECT e.event_id FROM events e WHERE e.month = $1 AND e.event_id IS NOT NULL
       )
       AND s.event_id NOT IN (
            SELECT d.event_id FROM direct d WHERE d.event_id IS NOT NULL
       ))
