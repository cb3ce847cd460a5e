#!/usr/bin/env bash
# The cluster benchmark (BENCHMARKS.md "On a cluster"): one generated portfolio's `usage` and
# `history` on the embedded engine and on a local Ballista cluster of one and of two
# executors, each output compared with the embedded engine's.
#
#   cargo build --release && benches/cluster.sh [EVENTS]     # default 10,000,000 events
#
# The portfolio is the scale benchmark's shape (EVENTS/10 people, 200 apps, 12 months), kept
# under $SCALE_DIR between runs. Prints wall seconds and peak RSS for every run; an
# executor's peak is read from /proc before it is stopped.
set -euo pipefail
cd "$(dirname "$0")/.."

target=${CARGO_TARGET_DIR:-target}
bin=${SEATCOUNT_BIN:-$target/release/seatcount}
events=${1:-10000000}
users=$((events / 10))
dir=${SCALE_DIR:-$target/scale}
raw=$dir/cluster-raw-$events
wh=$dir/cluster-warehouse-$events
out=$dir/cluster-out-$events
port=${CLUSTER_PORT:-50550}
export SEATCOUNT_HASH_KEY=4242424242424242424242424242424242424242424242424242424242424242

[ -x "$bin" ] || { echo "no release binary at $bin: cargo build --release" >&2; exit 2; }
mkdir -p "$dir" "$out"
pids=()
stop_cluster() {
    for pid in "${pids[@]}"; do
        if [ -r "/proc/$pid/status" ]; then
            echo "    $(awk '/VmHWM/ {printf "process %s peak RSS %.0f MiB", '"$pid"', $2/1024}' "/proc/$pid/status")"
        fi
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    pids=()
}
trap stop_cluster EXIT

if [ ! -e "$raw/.complete" ]; then
    rm -rf "$raw"
    "$bin" generate --users "$users" --apps 200 --months 12 --events "$events" \
        --start 2026-01 --seed 2026 --out "$raw" >/dev/null
    touch "$raw/.complete"
fi
rm -rf "$wh"
"$bin" --warehouse "$wh" init >/dev/null
printf '[classification]\nrules = ["reported", "domains"]\ninternal_domains = ["acme.com", "acme-corp.com"]\n' \
    >"$wh/seatcount.toml"
printf 'subscription_id,subscription_type,quantity,valid_from,valid_to,app_id\next,external,%s,2026-01-01,,\nmulti,multi_app_internal,%s,2026-01-01,,\npack-0,single_app_internal,500,2026-01-01,,app-0000\n' \
    "$((users / 4))" "$((users / 2))" >"$wh/entitlements.csv"
/usr/bin/time -f "ingest %e s, peak RSS %M KiB" "$bin" --warehouse "$wh" ingest "$raw" >/dev/null

# run NAME REPORT [ENV...]: one report, timed, its CSV kept as $out/NAME-REPORT.csv.
run() {
    local name=$1 report=$2
    shift 2
    local cluster=()
    [ "${CLUSTER:-}" ] && cluster=(--cluster "127.0.0.1:$port")
    env "$@" /usr/bin/time -f "%e %M" -o "$out/time" "$bin" --warehouse "$wh" "${cluster[@]}" \
        report "$report" --format csv >"$out/$name-$report.csv"
    read -r secs kib <"$out/time"
    local same=""
    if [ "$name" != embedded-events ]; then
        if cmp -s "$out/$name-$report.csv" "$out/embedded-events-$report.csv"; then
            same="equal to the embedded engine"
        else
            same="DIFFERS from the embedded engine"
        fi
    fi
    printf '  %-26s %-8s %7.2f s  client peak RSS %5.0f MiB  %s\n' "$name" "$report" "$secs" \
        "$((kib / 1024))" "$same"
}

start_cluster() {
    "$bin" scheduler --bind "127.0.0.1:$port" 2>"$out/scheduler.log" &
    pids+=($!)
    sleep 1
    local n
    for n in $(seq 1 "$1"); do
        "$bin" executor --scheduler "127.0.0.1:$port" --port $((port + 2 * n)) \
            --grpc-port $((port + 2 * n + 1)) --work-dir "$out/work-$n" 2>"$out/executor-$n.log" &
        pids+=($!)
    done
    sleep 2
}

echo "cluster benchmark: $events events, $users people, 200 apps, 12 months, $(nproc) cores"
echo "embedded engine, every month computed from the events (SEATCOUNT_DERIVED=off):"
for r in usage history; do run embedded-events "$r" SEATCOUNT_DERIVED=off; done
for n in 1 2; do
    echo "cluster of $n executor(s), computed from the events:"
    start_cluster "$n"
    for r in usage history; do CLUSTER=1 run "cluster-$n" "$r"; done
    stop_cluster
done
echo "embedded engine, deriving each month's state (cold), then reading it (warm):"
run embedded-cold history
run embedded-warm history
echo "cluster of 2 executors, reading the derived state:"
start_cluster 2
CLUSTER=1 run cluster-2-derived history
stop_cluster
du -sb "$wh/events" | awk '{printf "stored events: %.0f MiB\n", $1/1048576}'
du -sb "$wh/_seatcount/derived" | awk '{printf "derived state: %.0f MiB\n", $1/1048576}'
