#!/usr/bin/env bash
# Early stopping against full-budget search given the same compute, through
# the real service: a private PostgreSQL, one nas-controller and WORKERS
# nas-worker processes on this machine. The searches of base.yaml named in
# SEARCHES (default all five) run one after another, each for SECONDS of
# wall time on the same workers (so the same worker-seconds), then are
# cancelled:
#   random         every trial trains its full 9 epochs;
#   asha+random    ASHA (rungs at epochs 1 and 3, the top third goes on);
#   asha+evo       ASHA with regularized evolution;
#   promote+random ASHA's promotion variant (pause, resume when promoted);
#   promote+evo    the same with regularized evolution.
# For each it prints the trials started, completed and stopped, the best
# test accuracy among trials that trained the full budget (and the test
# accuracy of the one the search ranks best, by validation accuracy), and
# the seconds from submission until a trial first finished with at least
# TARGET_LOW (default 0.89) and TARGET (default 0.90) test accuracy; then,
# per search, the test accuracy of every trial that trained the full budget.
#
#   bench/early_stopping/run.sh   # SECONDS=900 WORKERS=2 THREADS=nproc/WORKERS
#   SEARCHES="random promote+random" DATA_FRACTION=0.5 SEED=12 bench/early_stopping/run.sh
#
# BUILD_DIR (default build) must hold a build; NAS_DATA_DIR (default data/)
# must hold fashion_mnist/. The PostgreSQL server lives in a fresh /tmp
# folder on PG_PORT (default 55491) and is removed at the end.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
SECONDS_EACH=${SECONDS:-900}
WORKERS=${WORKERS:-2}
TARGET=${TARGET:-0.90}
# A second, lower target, for budgets under which few trials reach TARGET.
TARGET_LOW=${TARGET_LOW:-0.89}
# The share of the training images a trial trains on (base.yaml: 0.25).
DATA_FRACTION=${DATA_FRACTION:-0.25}
# The search seed (base.yaml: 11): every search of a run proposes from it.
SEED=${SEED:-11}
SEARCHES=${SEARCHES:-random asha+random asha+evo promote+random promote+evo}
PG_PORT=${PG_PORT:-55491}
CONTROLLER=127.0.0.1:${CONTROLLER_PORT:-50591}
DATA=${NAS_DATA_DIR:-$ROOT/data}
RUN_DIR=$(mktemp -d /tmp/nas-bench-es-XXXXXX)
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
THREADS=${THREADS:-$(( $(nproc) / WORKERS ))}; (( THREADS < 1 )) && THREADS=1
for i in $(seq 1 "$WORKERS"); do
  "$BUILD_DIR/worker/nas-worker" --controller="$CONTROLLER" --plaintext \
    --device=auto --data_dir="$DATA" --threads="$THREADS" \
    >"$RUN_DIR/worker-$i.log" 2>&1 &
  PIDS+=($!)
done
for _ in $(seq 1 100); do "${NASCTL[@]}" searches >/dev/null 2>&1 && break; sleep 0.2; done

submit() { "${NASCTL[@]}" submit "$1" -o json | sed -n 's/.*"id":"\{0,1\}\([0-9]*\).*/\1/p' | head -n 1; }
sql() { psql "$DB_URL" -Atq -F ' ' -c "$1"; }

run() {  # name, strategy line, early_stopping line
  local spec="$RUN_DIR/$1.yaml"
  { sed -e "s/data_fraction: 0.25/data_fraction: $DATA_FRACTION/" \
        -e "s/^seed: 11$/seed: $SEED/" bench/early_stopping/base.yaml
    echo "$2"; echo "$3"; } >"$spec"
  local id; id=$(submit "$spec")
  sleep "$SECONDS_EACH"
  "${NASCTL[@]}" cancel "$id" >/dev/null
  # Trials still running when the time is up count as started only.
  sql "SELECT
         count(*) FILTER (WHERE t.state <> 'PENDING' AND t.started_at IS NOT NULL),
         count(*) FILTER (WHERE t.state = 'COMPLETED'),
         count(*) FILTER (WHERE t.state = 'STOPPED'),
         coalesce(round(max(t.test_accuracy) FILTER (WHERE t.state = 'COMPLETED')::numeric, 4)::text, '-'),
         coalesce((SELECT round(b.test_accuracy::numeric, 4)::text FROM best_trials b
                   WHERE b.search_id = $id ORDER BY b.rank, b.number LIMIT 1), '-'),
         coalesce(round(extract(epoch FROM min(t.finished_at) FILTER (
                    WHERE t.state = 'COMPLETED' AND t.test_accuracy >= $TARGET_LOW)
                  - s.created_at)::numeric, 0)::text, 'never'),
         coalesce(round(extract(epoch FROM min(t.finished_at) FILTER (
                    WHERE t.state = 'COMPLETED' AND t.test_accuracy >= $TARGET)
                  - s.created_at)::numeric, 0)::text, 'never')
       FROM trials t JOIN searches s ON s.id = t.search_id
       WHERE t.search_id = $id GROUP BY s.created_at" |
    awk -v name="$1" '{printf "%-14s %8s %10s %8s %10s %12s %10s %10s\n", name, $1, $2, $3, $4, $5, $6, $7}'
  # The spread, printed after the table: how hard TARGET is at this budget.
  sql "SELECT count(*), count(*) FILTER (WHERE test_accuracy >= $TARGET),
         coalesce(string_agg(round(test_accuracy::numeric, 4)::text, ' '
                             ORDER BY test_accuracy DESC), '')
       FROM trials WHERE search_id = $id AND state = 'COMPLETED'" |
    awk -v name="$1" -v target="$TARGET" '{
      printf "%-14s %s full-budget trials, %s at or above %s:", name, $1, $2, target
      for (i = 3; i <= NF; ++i) printf " %s", $i
      printf "\n"}' >>"$RUN_DIR/spread.txt"
}

echo "logs: $RUN_DIR"
echo "each search: ${SECONDS_EACH}s on $WORKERS workers ($THREADS threads each, $(nproc) cores); data_fraction $DATA_FRACTION; seed $SEED; seconds until a trial first reached $TARGET_LOW and $TARGET test accuracy"
printf "%-14s %8s %10s %8s %10s %12s %10s %10s\n" search started completed stopped best_test test_of_best "s_to_$TARGET_LOW" "s_to_$TARGET"
ASHA="min_epochs: 1, reduction_factor: 3"
EVOLUTION="strategy: {evolution: {population_size: 10, sample_size: 3}}"
for search in $SEARCHES; do
  case "$search" in
    random) run random "strategy: random" "" ;;
    asha+random) run asha+random "strategy: random" "early_stopping: {asha: {$ASHA}}" ;;
    asha+evo) run asha+evo "$EVOLUTION" "early_stopping: {asha: {$ASHA}}" ;;
    promote+random)
      run promote+random "strategy: random" "early_stopping: {asha: {$ASHA, promote: true}}" ;;
    promote+evo)
      run promote+evo "$EVOLUTION" "early_stopping: {asha: {$ASHA, promote: true}}" ;;
    *) echo "unknown search $search in SEARCHES" >&2; exit 2 ;;
  esac
done
echo "test accuracy of each full-budget trial, best first:"
cat "$RUN_DIR/spread.txt"
