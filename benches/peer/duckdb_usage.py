"""The peer of seatcount's usage report: the same semantics in DuckDB SQL, straight over the
raw Parquet files `seatcount generate` writes, for the scale benchmark (benches/scale.rs).

    python3 benches/peer/duckdb_usage.py RAW_GLOB ENTITLEMENTS_CSV [MONTH]
    python3 benches/peer/duckdb_usage.py --load RAW_GLOB DB_FILE
    python3 benches/peer/duckdb_usage.py --db DB_FILE ENTITLEMENTS_CSV [MONTH]

The first form queries the raw files. `--load` copies them once into a table of a native
DuckDB database file (with each row's file name and row number, which the de-duplication
orders by) and prints `seconds=<s>`, the load's time. `--db` runs the same query over that
table: DuckDB at its best, on its own storage.

Prints the usage rows (month, subscription_type, app_id, entitlement, consumption,
over_usage) as CSV in the order of seatcount's `history` report, for every month or only
MONTH, then one line `seconds=<s>` timing the query alone (connection set-up excluded).

It is equivalent to seatcount under the benchmark's configuration only: the Mendix profile
(identifiers.case = exact, source = nui_then_name, dedup.policy = identifier, logins, the
waterfall with mixed = single_app, subscriptions valid on the month's last day, no
assignments.csv) with rules = ["reported", "domains"] and internal_domains = ["acme.com",
"acme-corp.com"]. Generated identifiers are ASCII, so lower(trim(x)) is seatcount's NFKC
normalization of e-mails.
"""

import csv
import sys
import time

import duckdb

QUERY = """
WITH raw AS (
    SELECT *, strftime(event_time AT TIME ZONE 'UTC', '%Y-%m') AS month
    FROM {source}
),
-- Re-sent events: one copy of an event_id of a source (app and environment) in a month counts.
-- The generator re-sends an event as an exact copy, so which copy does not matter (seatcount
-- keeps the earliest version, which is every copy here).
events AS (
    SELECT * FROM raw
    WHERE $month IS NULL OR month = $month
    QUALIFY event_id IS NULL
         OR row_number() OVER (
                PARTITION BY month, app_id, environment_id, event_id ORDER BY filename, file_row_number
            ) = 1
),
counted AS (
    SELECT
        month, app_id, coalesce(user_provider, '') AS user_provider,
        coalesce(nullif(trim(tenant), ''), 'default') AS tenant, event_time, event_id,
        coalesce(nullif(named_user_identifier, ''), nullif(user_name, '')) AS identifier_key,
        coalesce(
            CASE lower(trim(user_type)) WHEN 'external' THEN 'External' WHEN 'internal' THEN 'Internal' END,
            CASE
                WHEN dom IS NULL THEN 'Internal'
                WHEN dom IN ('acme.com', 'acme-corp.com') THEN 'Internal'
                ELSE 'External'
            END,
            'Internal'
        ) AS event_class
    FROM (
        SELECT *,
            coalesce(
                CASE WHEN regexp_full_match(lower(trim(email)), '[^@\\s]+@[^@\\s]+\\.[^@\\s]+')
                     THEN split_part(lower(trim(email)), '@', 2) END,
                CASE WHEN regexp_full_match(lower(trim(user_name)), '[^@\\s]+@[^@\\s]+\\.[^@\\s]+')
                     THEN split_part(lower(trim(user_name)), '@', 2) END
            ) AS dom
        FROM events
    )
    WHERE coalesce(lower(trim(environment_type)), 'production') = 'production'
      AND coalesce(active, true) AND NOT coalesce(anonymous, false)
),
-- An account's classification is its latest counted event's, ties broken as seatcount does.
accounts AS (
    SELECT month, app_id, identifier_key AS person_id,
           arg_max(event_class, struct_pack(t := event_time, i := event_id, c := event_class))
               AS classification
    FROM counted
    GROUP BY month, app_id, user_provider, tenant, identifier_key
),
persons AS (
    SELECT month, person_id, bool_and(classification = 'External') AS external
    FROM accounts
    GROUP BY month, person_id
),
months AS (SELECT DISTINCT month FROM events),
subs AS (
    SELECT m.month, s.*
    FROM months m
    JOIN read_csv($entitlements, header = true, all_varchar = true) s
      ON CAST(s.valid_from AS DATE) <= last_day(CAST(m.month || '-01' AS DATE))
     AND (s.valid_to IS NULL OR CAST(s.valid_to AS DATE) >= last_day(CAST(m.month || '-01' AS DATE)))
),
packs AS (
    SELECT month, app_id, sum(CAST(quantity AS BIGINT)) AS entitlement
    FROM subs WHERE subscription_type = 'single_app_internal' AND app_id IS NOT NULL
    GROUP BY ALL
),
final AS (
    SELECT p.month, p.person_id,
           p.external AND p.month IN (SELECT month FROM subs WHERE subscription_type = 'external')
               AS external
    FROM persons p
),
person_apps AS (SELECT DISTINCT month, person_id, app_id FROM accounts),
-- waterfall.mixed = single_app: a person who used an app with a pack is Single-App only.
pack_use AS (
    SELECT pa.month, pa.person_id, bool_or(k.app_id IS NOT NULL) AS uses_pack
    FROM person_apps pa LEFT JOIN packs k USING (month, app_id)
    GROUP BY ALL
),
used AS (
    SELECT month, 'external' AS subscription_type, '' AS app_key, count(*) AS consumption
    FROM final WHERE external GROUP BY ALL
    UNION ALL
    SELECT pa.month, 'single_app_internal', pa.app_id, count(DISTINCT pa.person_id)
    FROM person_apps pa
    JOIN final f USING (month, person_id)
    JOIN packs k USING (month, app_id)
    WHERE NOT f.external GROUP BY ALL
    UNION ALL
    SELECT f.month, 'multi_app_internal', '', count(*)
    FROM final f
    JOIN pack_use u USING (month, person_id)
    WHERE NOT f.external AND NOT u.uses_pack GROUP BY ALL
),
lines AS (
    SELECT month, 'external' AS subscription_type, NULL AS app_id, 1 AS step FROM months
    UNION ALL SELECT month, 'single_app_internal', app_id, 2 FROM packs
    UNION ALL SELECT month, 'multi_app_internal', NULL, 3 FROM months
),
entitled AS (
    SELECT month, subscription_type, coalesce(app_id, '') AS app_key,
           sum(CAST(quantity AS BIGINT)) AS entitlement
    FROM subs WHERE subscription_type <> 'single_app_internal' OR app_id IS NOT NULL
    GROUP BY ALL
)
SELECT l.month, l.subscription_type, l.app_id,
       coalesce(e.entitlement, 0) AS entitlement,
       coalesce(u.consumption, 0) AS consumption,
       greatest(coalesce(u.consumption, 0) - coalesce(e.entitlement, 0), 0) AS over_usage
FROM lines l
LEFT JOIN entitled e
  ON e.month = l.month AND e.subscription_type = l.subscription_type AND e.app_key = coalesce(l.app_id, '')
LEFT JOIN used u
  ON u.month = l.month AND u.subscription_type = l.subscription_type AND u.app_key = coalesce(l.app_id, '')
ORDER BY l.month, l.step, l.app_id
"""


RAW_FILES = "read_parquet($raw, filename = true, file_row_number = true)"
LOADED = "raw_events"


def load(raw: str, db: str) -> None:
    con = duckdb.connect(db)
    start = time.perf_counter()
    con.execute(f"CREATE OR REPLACE TABLE {LOADED} AS SELECT * FROM {RAW_FILES}", {"raw": raw})
    con.execute("CHECKPOINT")
    print(f"seconds={time.perf_counter() - start:.3f}")


def main() -> None:
    if sys.argv[1] == "--load":
        load(sys.argv[2], sys.argv[3])
        return
    if sys.argv[1] == "--db":
        con = duckdb.connect(sys.argv[2], read_only=True)
        query, params = QUERY.format(source=LOADED), {}
        args = sys.argv[3:]
    else:
        con = duckdb.connect()
        query, params = QUERY.format(source=RAW_FILES), {"raw": sys.argv[1]}
        args = sys.argv[2:]
    entitlements = args[0]
    month = args[1] if len(args) > 1 else None
    params |= {"entitlements": entitlements, "month": month}
    con.execute("SET TimeZone = 'UTC'")
    start = time.perf_counter()
    rows = con.execute(query, params).fetchall()
    seconds = time.perf_counter() - start
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["month", "subscription_type", "app_id", "entitlement", "consumption", "over_usage"])
    for row in rows:
        out.writerow(["" if v is None else v for v in row])
    print(f"seconds={seconds:.3f}")


if __name__ == "__main__":
    main()
