#!/usr/bin/env bash
# The controller benchmark: trial lifecycles per second through one real
# nas-controller on a private PostgreSQL (default, durable settings), beside
# a pgbench baseline measured on the same server in the same run.
#
#   bench/controller/run.sh                 # fake workers 8, 64, 256; then
#                                           # 16 nas-worker --table processes
#   WORKERS="8 64" REAL=0 TRIALS=1000 bench/controller/run.sh
#   WORKERS=64 REAL=0 TRIALS=100000 SPACE=chain MAX_MINUTES=30 bench/controller/run.sh
#   WORKERS=64 REAL=0 PRELOAD=1000000 bench/controller/run.sh
#
# Also: WATCHERS (default 10) watch streams (WATCH_RPC) on a 64-worker search
# against the same search without them; IDLE (default 1000) registered
# workers polling with nothing to run, for the controller's idle cost;
# MEMORY (default 1) the fake-worker runs again on a second controller with
# --database_url=memory: (no database), which shows what the controller
# itself can do and how much of each lifecycle the database costs.
#
# BUILD_DIR (default build) is the CMake build folder. The NAS-Bench-201
# table (../shared/benchmarks/nb201_cifar10.csv) is needed for REAL workers.
# Prints one JSON line per run and a table; see README.md.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
WORKERS=${WORKERS:-8 64 256}
REAL=${REAL:-16}
WATCHERS=${WATCHERS:-10}
# WATCH_RPC: what the watchers read: batched (WatchSearchBatched, as
# nasctl watch does), single (WatchSearch, one event per message), or both
# (two watched runs).
WATCH_RPC=${WATCH_RPC:-batched}
IDLE=${IDLE:-1000}
MEMORY=${MEMORY:-1}
# PRELOAD (default 0): after the fake-worker runs, this many finished
# trials (each with an epoch) of another search are written into the
# database and the 64-worker run is repeated: the cost of a large history.
PRELOAD=${PRELOAD:-0}
TRIALS=${TRIALS:-2000}
# nb201 holds 5,260 distinct computations; longer searches need chain.
SPACE=${SPACE:-nb201}
MAX_MINUTES=${MAX_MINUTES:-10}
TABLE=${TABLE:-$ROOT/../shared/benchmarks/nb201_cifar10.csv}
# The table answers only nb201 cells, and nb201 runs out of distinct cells
# past 5,260 trials: refused here rather than after MAX_MINUTES of waiting.
if [[ "$REAL" -gt 0 && ( "$SPACE" != nb201 || "$TRIALS" -gt 5260 ) ]]; then
  echo "REAL workers (nas-worker --table) run nb201 searches of at most 5260 trials;" \
    "got SPACE=$SPACE TRIALS=$TRIALS (set REAL=0 for longer or chain searches)" >&2
  exit 2
fi
if [[ "$REAL" -gt 0 && ! -f "$TABLE" ]]; then
  echo "REAL workers need the NAS-Bench-201 table: $TABLE not found (set TABLE)" >&2
  exit 2
fi
# One connection per fake worker: --idle_workers needs many descriptors.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

# Without REAL workers a build without the worker (-DNAS_BUILD_WORKER=OFF,
# no LibTorch) runs the benchmark.
targets=(controller_bench nas-controller)
[[ "$REAL" -gt 0 ]] && targets+=(nas-worker)
cmake --build "$BUILD_DIR" --target "${targets[@]}" -j 2 >/dev/null

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
RUN=$(mktemp -d /tmp/nas-ctl-bench-XXXXXX)
chmod 755 "$RUN"
PG_PORT=$(free_port)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$ROOT/scripts/pg_local.sh" stop "$RUN/pg" >/dev/null 2>&1 || true
  rm -rf "$RUN"
}
trap cleanup EXIT
DB_URL=$("$ROOT/scripts/pg_local.sh" start "$RUN/pg" "$PG_PORT" 2>/dev/null | tail -n 1)
# pg_stat_statements: which statements the database spends its time on,
# per run (the profile of the database side). Needs a restart to load.
printf "shared_preload_libraries = 'pg_stat_statements'\npg_stat_statements.track_planning = on\n" >>"$RUN/pg/postgresql.conf"
"$ROOT/scripts/pg_local.sh" stop "$RUN/pg" >/dev/null 2>&1
"$ROOT/scripts/pg_local.sh" start "$RUN/pg" "$PG_PORT" >/dev/null 2>&1
as_superuser() {
  if [[ $(id -u) -eq 0 ]]; then
    (cd / && runuser -u postgres -- "$PG_BIN/psql" -h "$RUN/pg" -p "$PG_PORT" -d nas "$@")
  else
    "$PG_BIN/psql" -h "$RUN/pg" -p "$PG_PORT" -d nas "$@"
  fi
}
as_superuser -q -c 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements'

echo "== baseline: pgbench, one-row INSERT, 16 clients, 10 s, same server"
"$PG_BIN/psql" -q "$DB_URL" -c 'CREATE TABLE IF NOT EXISTS bench_rows (id bigserial PRIMARY KEY, v int)'
echo 'INSERT INTO bench_rows (v) VALUES (1);' >"$RUN/insert.sql"
PGBENCH_TPS=$("$PG_BIN/pgbench" -n -c 16 -j 2 -T 10 -f "$RUN/insert.sql" "$DB_URL" 2>/dev/null |
  sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -n 1)
echo "pgbench_tps $PGBENCH_TPS"

CTL_PORT=$(free_port)
HTTP_PORT=$(free_port)
"$BUILD_DIR/controller/nas-controller" --listen="127.0.0.1:$CTL_PORT" \
  --database_url="$DB_URL" --plaintext --http_listen="127.0.0.1:$HTTP_PORT" \
  >"$RUN/controller.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

# Where the time goes, besides the controller's own CPU (from /metrics):
# the database server's CPU (all its processes), its commits and the bytes
# it wrote to its write-ahead log (every row version and index entry a
# lifecycle writes: unlike CPU, not moved by the machine's other load).
# CPU seconds of every process of the server's OS user; the controller's
# pooled backends live through a run, so none of their time is lost
# between the two readings.
source "$ROOT/bench/controller/cpu_seconds.sh"
pg_cpu() {
  # shellcheck disable=SC2046  # one argument per process id
  cpu_seconds $(pgrep -u postgres)
}
pg_commits() {
  "$PG_BIN/psql" -Atq "$DB_URL" -c "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
}
pg_wal_bytes() {
  "$PG_BIN/psql" -Atq "$DB_URL" -c "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint"
}
RESULTS=()
bench() {
  local line cpu0 commits0 wal0 cpu1 commits1 wal1
  as_superuser -Atq -c 'SELECT pg_stat_statements_reset()' >/dev/null
  cpu0=$(pg_cpu); commits0=$(pg_commits); wal0=$(pg_wal_bytes)
  line=$("$BUILD_DIR/bench/controller/controller_bench" \
    --controller="127.0.0.1:$CTL_PORT" --metrics="127.0.0.1:$HTTP_PORT" \
    --trials="$TRIALS" --space="$SPACE" --max_minutes="$MAX_MINUTES" "$@") ||
    echo "   (the search did not complete within $MAX_MINUTES minutes: partial figures)" >&2
  sleep 1.5  # statistics reach pg_stat_database within a second
  cpu1=$(pg_cpu); commits1=$(pg_commits); wal1=$(pg_wal_bytes)
  line=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); n=max(r["completed"],1)
r["pg_cpu_ms_per_lifecycle"]=round((float(sys.argv[3])-float(sys.argv[2]))*1000/n,3)
r["commits_per_lifecycle"]=round((int(sys.argv[5])-int(sys.argv[4]))/n,2)
r["wal_bytes_per_lifecycle"]=round((int(sys.argv[7])-int(sys.argv[6]))/n)
print(json.dumps(r))' "$line" "$cpu0" "$cpu1" "$commits0" "$commits1" "$wal0" "$wal1")
  echo "$line"
  RESULTS+=("$line")
  # A controller without a database leaves no statements to show.
  [[ "$line" == *'"label": "memory-'* ]] && return 0
  local n
  n=$(python3 -c 'import json,sys; print(max(json.loads(sys.argv[1])["completed"],1))' "$line")
  as_superuser -Atq -F ' ' -c "SELECT round(sum(calls)::numeric / $n, 1), round((sum(total_exec_time) / $n)::numeric, 2), round((sum(total_plan_time) / $n)::numeric, 2) FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'nas')" |
    awk '{printf "   per lifecycle: %s statements, %s ms executing, %s ms planning (PostgreSQL CPU above is the whole server)\n", $1, $2, $3}'
  echo "   top statements by database time (ms per lifecycle, calls per lifecycle):"
  as_superuser -Atq -F ' | ' -c "SELECT round((total_exec_time / $n)::numeric, 3), round(calls::numeric / $n, 2), left(regexp_replace(query, '\s+', ' ', 'g'), 110) FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'nas') ORDER BY total_exec_time DESC LIMIT 8" |
    sed 's/^/   /'
  # Each statement costs a round trip and the server's per-statement work
  # however little it does: the most frequent ones, BEGIN and COMMIT
  # included.
  echo "   most frequent statements (calls per lifecycle):"
  as_superuser -Atq -F ' | ' -c "SELECT round(calls::numeric / $n, 2), left(regexp_replace(query, '\s+', ' ', 'g'), 110) FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'nas') ORDER BY calls DESC LIMIT 10" |
    sed 's/^/   /'
}
for w in $WORKERS; do
  echo "== $w fake workers (threads, one connection each), $TRIALS trials"
  bench --workers="$w" --label="fake-$w"
done
if [[ "$PRELOAD" -gt 0 ]]; then
  echo "== $PRELOAD finished trials of another search in the database; 64 fake workers, $TRIALS trials"
  # Copies of the first run's first trial, in a search of their own that
  # has ended, so nothing leases them; ANALYZE so that plans see the rows.
  "$PG_BIN/psql" -q "$DB_URL" -v ON_ERROR_STOP=1 <<SQL
INSERT INTO searches (name, spec, state, max_trials, parallelism, max_attempts,
                      objective_metric, objective_direction, finished_at)
  SELECT 'preload', spec, 'COMPLETED', $PRELOAD, parallelism, max_attempts,
         objective_metric, objective_direction, now()
  FROM searches ORDER BY id LIMIT 1;
INSERT INTO trials (search_id, number, state, kind, arch_text, arch_choices,
                    canonical_key, budget, seed, attempt, worker_id,
                    val_accuracy, val_loss, test_accuracy, train_seconds,
                    started_at, finished_at)
  SELECT (SELECT max(id) FROM searches), g, 'COMPLETED', 'TRAIN', t.arch_text,
         t.arch_choices, t.canonical_key || '#' || g, t.budget, g, 1,
         'w-preload', random(), random(), random(), 1, now(), now()
  FROM generate_series(0, $PRELOAD - 1) AS g,
       (SELECT * FROM trials ORDER BY id LIMIT 1) AS t;
INSERT INTO trial_epochs (trial_id, attempt, epoch, train_loss, val_loss,
                          val_accuracy, seconds)
  SELECT id, 1, 1, 0.5, 0.5, val_accuracy, 1 FROM trials
  WHERE search_id = (SELECT max(id) FROM searches WHERE name = 'preload');
ANALYZE;
SQL
  bench --workers=64 --label="fake-64+preload$PRELOAD"
fi
if [[ "$WATCHERS" -gt 0 ]]; then
  if [[ "$WATCH_RPC" != single ]]; then
    echo "== 64 fake workers, $TRIALS trials, with $WATCHERS watchers (WatchSearchBatched, as nasctl watch)"
    bench --workers=64 --watchers="$WATCHERS" --label="fake-64+watch$WATCHERS"
  fi
  if [[ "$WATCH_RPC" != batched ]]; then
    echo "== 64 fake workers, $TRIALS trials, with $WATCHERS watchers on WatchSearch (one event per message)"
    bench --workers=64 --watchers="$WATCHERS" --watch_batched=false \
      --label="fake-64+watch$WATCHERS-single"
  fi
fi
IDLE_LINE=""
if [[ "$IDLE" -gt 0 ]]; then
  echo "== $IDLE idle workers polling AcquireTrial, no search running"
  IDLE_LINE=$("$BUILD_DIR/bench/controller/controller_bench" \
    --controller="127.0.0.1:$CTL_PORT" --metrics="127.0.0.1:$HTTP_PORT" \
    --idle_workers="$IDLE" --idle_seconds=20 --label="idle-$IDLE")
  echo "$IDLE_LINE"
fi
if [[ "$REAL" -gt 0 ]]; then
  echo "== $REAL nas-worker --table processes, $TRIALS trials"
  WPIDS=()
  STARTED=$("$PG_BIN/psql" -Atq "$DB_URL" -c "SELECT now()")
  for i in $(seq 1 "$REAL"); do
    "$BUILD_DIR/worker/nas-worker" --controller="127.0.0.1:$CTL_PORT" \
      --plaintext --table="$TABLE" --name="bench-$i" >"$RUN/worker-$i.log" 2>&1 &
    WPIDS+=($!)
  done
  PIDS+=("${WPIDS[@]}")
  # Timed from a fleet that is up: each process first loads LibTorch (about
  # a CPU-second of static initialization), and 16 of them starting at once
  # held both cores for the first seconds of what used to be the timed
  # search.
  for _ in $(seq 1 600); do
    up=$("$PG_BIN/psql" -Atq "$DB_URL" -c "SELECT count(*) FROM workers WHERE registered_at > '$STARTED'")
    [[ "$up" -ge "$REAL" ]] && break
    sleep 0.1
  done
  echo "   $up of $REAL workers registered before the search"
  bench --workers=0 --parallelism="$((REAL * 2))" --label="real-$REAL"
  for pid in "${WPIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
fi
if [[ "$MEMORY" == 1 ]]; then
  CTL_PORT=$(free_port)
  HTTP_PORT=$(free_port)
  "$BUILD_DIR/controller/nas-controller" --listen="127.0.0.1:$CTL_PORT" \
    --database_url=memory: --plaintext --http_listen="127.0.0.1:$HTTP_PORT" \
    >"$RUN/controller-memory.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  for w in $WORKERS; do
    echo "== $w fake workers, $TRIALS trials, controller on --database_url=memory:"
    bench --workers="$w" --label="memory-$w"
  done
fi

python3 - "$PGBENCH_TPS" "$IDLE_LINE" "${RESULTS[@]}" <<'PY'
import json, sys
tps = float(sys.argv[1] or 0)
idle = json.loads(sys.argv[2]) if sys.argv[2] else None
rows = [json.loads(r) for r in sys.argv[3:]]
print()
print("| run | lifecycles/s | vs pgbench INSERT/s | last/first tenth | acquire p50/p99 ms | complete p50/p99 ms | controller CPU ms/lifecycle | PostgreSQL CPU ms/lifecycle | commits/lifecycle | WAL bytes/lifecycle | RSS MB |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    ratio = r["lifecycles_per_s"] / tps if tps else 0
    tenth = (r["last_tenth_per_s"] / r["first_tenth_per_s"]) if r["first_tenth_per_s"] else 0
    # Separate worker processes time their own calls; only fake workers'
    # latencies are measured here.
    fake = r["workers"] > 0
    acquire = "{:.1f} / {:.1f}".format(r["acquire_p50_ms"], r["acquire_p99_ms"]) if fake else "-"
    complete = "{:.1f} / {:.1f}".format(r["complete_p50_ms"], r["complete_p99_ms"]) if fake else "-"
    print("| {label} | {rate:.0f} | {ratio:.3f} | {tenth:.2f} | {acquire} | {complete} | {cpu} | {pgcpu} | {commits} | {wal} | {rss} |".format(
        label=r["label"], rate=r["lifecycles_per_s"], ratio=ratio, tenth=tenth,
        acquire=acquire, complete=complete,
        cpu=r.get("controller_cpu_ms_per_lifecycle", "-"),
        pgcpu=r["pg_cpu_ms_per_lifecycle"], commits=r["commits_per_lifecycle"],
        wal=r.get("wal_bytes_per_lifecycle", "-"),
        rss=r.get("controller_rss_mb", "-")))
phased = [r for r in rows if "acquire_phases" in r]
if phased:
    # Server side (nas_acquire_phase_seconds): mean, and the bucket bounds
    # that hold the median and the 99th percentile of the calls.
    print()
    print("| run | AcquireTrial: lease mean / p50 / p99 ms | step mean / p50 / p99 ms | wait mean / p50 / p99 ms |")
    print("|---|---|---|---|")
    for r in phased:
        def cell(phase):
            p = r["acquire_phases"].get(phase)
            if not p:
                return "-"
            bound = lambda v: "> 30000" if v < 0 else "<= {:g}".format(v)
            return "{:.2f} / {} / {}".format(p["mean_ms"], bound(p["p50_le_ms"]), bound(p["p99_le_ms"]))
        print("| {} | {} | {} | {} |".format(r["label"], cell("lease"), cell("step"), cell("wait")))
    print("\nThe fake workers' own CPU, ms per lifecycle: " + ", ".join(
        "{} {}".format(r["label"], r["bench_cpu_ms_per_lifecycle"])
        for r in phased if "bench_cpu_ms_per_lifecycle" in r))
print(f"\npgbench one-row INSERT at 16 clients: {tps:.0f}/s")
plain = {r["workers"]: r for r in rows
         if not r.get("watchers") and r["label"].startswith("fake-")
         and "+" not in r["label"]}
for r in rows:
    if not r.get("watchers"):
        continue
    base = plain.get(r["workers"])
    cost = 1 - r["lifecycles_per_s"] / base["lifecycles_per_s"] if base else 0
    print(f"{r['label']}: every stream ended within "
          f"{r['watch_end_after_search_ms']:.0f} ms of the search's last "
          f"lifecycle ({r['watch_failed']} failed); throughput "
          f"{r['lifecycles_per_s']:.0f}/s against {base['lifecycles_per_s']:.0f}/s "
          f"without them ({cost:+.0%} cost)" if base else "")
if idle:
    print(f"{idle['registered']} idle workers: {idle['polls_per_s']:.0f} "
          f"AcquireTrial polls/s cost the controller "
          f"{idle['controller_cpu_cores']:.2f} cores and it holds "
          f"{idle['controller_rss_mb']:.0f} MB resident")
PY
