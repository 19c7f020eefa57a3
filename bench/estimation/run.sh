#!/usr/bin/env bash
# Weight sharing against from-scratch random search, given the same wall
# time, through the real service: a private PostgreSQL, one nas-controller
# and WORKERS nas-worker processes on this machine.
#
#   bench/estimation/run.sh [WS_SPEC [SCRATCH_SPEC]]
#
# 1. Runs WS_SPEC (default examples/demo_fashion_mnist.yaml, weight sharing)
#    to the end and takes its wall time T and the test accuracy of its best
#    retrained model.
# 2. Runs SCRATCH_SPEC (default examples/demo_fashion_mnist_from_scratch.yaml,
#    with max_trials raised so that it cannot finish early) for the same T,
#    cancels it, and takes the best test accuracy among its completed trials
#    (ranked by validation accuracy, as the search itself ranks them).
# Prints one table. BUILD_DIR (default build) must hold a build; NAS_DATA_DIR
# (default data/) must hold fashion_mnist/. The PostgreSQL server lives in a
# fresh /tmp folder on PG_PORT (default 55490) and is removed at the end.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
WS_SPEC=${1:-examples/demo_fashion_mnist.yaml}
SCRATCH_SPEC=${2:-examples/demo_fashion_mnist_from_scratch.yaml}
WORKERS=${WORKERS:-2}
PG_PORT=${PG_PORT:-55490}
CONTROLLER=127.0.0.1:${CONTROLLER_PORT:-50590}
DATA=${NAS_DATA_DIR:-$ROOT/data}
RUN_DIR=$(mktemp -d /tmp/nas-bench-estimation-XXXXXX)
chmod 755 "$RUN_DIR"  # the PostgreSQL server user must reach pg/ inside
PG_DIR="$RUN_DIR/pg"
NASCTL=("$BUILD_DIR/nasctl/nasctl" --controller="$CONTROLLER" --plaintext)

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  scripts/pg_local.sh stop "$PG_DIR" >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}
trap cleanup EXIT

DB_URL=$(scripts/pg_local.sh start "$PG_DIR" "$PG_PORT" | tail -n 1)
"$BUILD_DIR/controller/nas-controller" --listen="$CONTROLLER" \
  --database_url="$DB_URL" --plaintext >"$RUN_DIR/controller.log" 2>&1 &
PIDS+=($!)
THREADS=$(( $(nproc) / WORKERS )); (( THREADS < 1 )) && THREADS=1
for i in $(seq 1 "$WORKERS"); do
  "$BUILD_DIR/worker/nas-worker" --controller="$CONTROLLER" --plaintext \
    --device=auto --data_dir="$DATA" --threads="$THREADS" \
    >"$RUN_DIR/worker-$i.log" 2>&1 &
  PIDS+=($!)
done
for _ in $(seq 1 100); do "${NASCTL[@]}" searches >/dev/null 2>&1 && break; sleep 0.2; done

submit() { "${NASCTL[@]}" submit "$1" -o json | sed -n 's/.*"id":"\{0,1\}\([0-9]*\).*/\1/p' | head -n 1; }
state() { "${NASCTL[@]}" describe "$1" | awk '$1 == "state:" {print $2}'; }
# The test accuracy and validation accuracy of the best trial by validation
# accuracy (nasctl best ranks by the search's objective).
best_of() { "${NASCTL[@]}" best "$1" -k 1 -o csv | awk -F, 'NR == 2 {print}'; }

echo "logs: $RUN_DIR"
start=$(date +%s.%N)
ws_id=$(submit "$WS_SPEC")
while [[ $(state "$ws_id") == RUNNING ]]; do sleep 2; done
ws_seconds=$(echo "$(date +%s.%N) - $start" | bc)
ws_state=$(state "$ws_id")
ws_best=$(best_of "$ws_id")
ws_candidates=$("${NASCTL[@]}" trials "$ws_id" -o csv --state completed --limit 1000 | grep -c ',SCORE_INHERITED,' || true)

scratch_spec="$RUN_DIR/scratch.yaml"
# Enough trials that the search is still running when its time is up.
sed 's/^\(  *max_trials:\).*/\1 10000/' "$SCRATCH_SPEC" >"$scratch_spec"
start=$(date +%s.%N)
scratch_id=$(submit "$scratch_spec")
sleep "$ws_seconds"
"${NASCTL[@]}" cancel "$scratch_id" >/dev/null
scratch_best=$(best_of "$scratch_id")
scratch_done=$("${NASCTL[@]}" trials "$scratch_id" -o csv --state completed --limit 1000 | tail -n +2 | wc -l)

echo
echo "wall time per search: ${ws_seconds}s ($WORKERS workers, $THREADS threads each, $(nproc) cores)"
echo "weight sharing ($ws_state, search $ws_id): candidates scored $ws_candidates"
echo "  best retrained (csv from nasctl best): $ws_best"
echo "from scratch (search $scratch_id): trials completed $scratch_done"
echo "  best (csv from nasctl best): $scratch_best"
