-- Which version of a repeated event id counts (docs/semantics.md "Counted events").
--
-- A source (an app in an environment) may send one event id more than once in a month. Copies
-- that agree in every stored column are one event. Copies that differ are versions of it, a
-- conflict, and which one counts must not depend on the order the rows came in, within one
-- input or over several ingests: it is the version that sorts first by the stored columns in
-- table order, which, the id and its source being equal, means the earliest `event_time` and
-- then the other columns (text byte by byte, a missing value last). The other versions go to
-- the `conflicts` table.
--
-- Reads, for month $1:
--   staged   this ingest's rows whose id it had already seen, and every row that came after
--            the month was closed (src/ingest/months.rs);
--   direct   this ingest's rows written straight to the month's file, one per id;
--   stored_events  the stored events as they are on disk (equal identifier forms NULL, as
--            this ingest's rows are too), one per id.
-- Only an id in `staged` can have two copies. Yields each distinct version of those ids once,
-- with `origin`, the first place it is in (0 stored, 1 direct, 2 staged), and `place`, its
-- rank among its id's versions: 1 counts, every other is a conflict.
--
-- {{stored_columns}} is every stored column in table order (src/warehouse/schema.rs).
WITH repeated AS (
    SELECT DISTINCT app_id, environment_id, event_id
    FROM staged
    WHERE event_id IS NOT NULL
),
-- Each file is joined to the repeated ids on its own, so that the join's filter reaches the
-- file's scan and the rows of other ids are skipped there, not decoded in full.
copies AS (
    SELECT {{stored_columns}}, 0 AS origin
    FROM stored_events e
    WHERE month = $1 AND EXISTS (
        SELECT 1 FROM repeated r
        WHERE r.event_id = e.event_id AND r.app_id = e.app_id AND r.environment_id = e.environment_id
    )
    UNION ALL
    SELECT {{stored_columns}}, 1 AS origin
    FROM direct d
    WHERE EXISTS (
        SELECT 1 FROM repeated r
        WHERE r.event_id = d.event_id AND r.app_id = d.app_id AND r.environment_id = d.environment_id
    )
    UNION ALL
    SELECT {{stored_columns}}, 2 AS origin FROM staged WHERE event_id IS NOT NULL
),
versions AS (
    SELECT {{stored_columns}}, min(origin) AS origin
    FROM copies
    GROUP BY {{stored_columns}}
)
SELECT
    *,
    row_number() OVER (
        PARTITION BY app_id, environment_id, event_id
        ORDER BY {{stored_columns}}
    ) AS place
FROM versions
