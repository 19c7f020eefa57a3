#!/usr/bin/env bash
# The demo: on a fresh Debian 12 machine, installs what is needed, builds,
# prepares Fashion-MNIST, starts a private PostgreSQL, a controller and two
# workers, runs a real architecture search, and prints the best architectures
# and how to query the trial history in SQL.
#
#   SPEC=examples/other.yaml WORKERS=2 scripts/quickstart.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SPEC=${SPEC:-examples/demo_fashion_mnist.yaml}
WORKERS=${WORKERS:-2}
PG_PORT=${NAS_PG_PORT:-55432}
PG_DIR=${NAS_PG_DIR:-/tmp/nas-pg-$PG_PORT}
CONTROLLER=${NAS_CONTROLLER:-127.0.0.1:50051}
DASHBOARD=${NAS_HTTP_LISTEN:-127.0.0.1:8080}
RUN_DIR="$ROOT/.nas"
mkdir -p "$RUN_DIR"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Installing Debian packages (skipped when present)"
scripts/install_deps.sh
step "Building"
scripts/build.sh
step "Preparing data sets"
scripts/prepare_data.sh "$ROOT/data"
step "Starting PostgreSQL on 127.0.0.1:$PG_PORT"
DB_URL=$(scripts/pg_local.sh start "$PG_DIR" "$PG_PORT" | tail -n 1)
echo "$DB_URL"

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

demo_start=$(date +%s)
step "Starting nas-controller on $CONTROLLER and $WORKERS workers (logs in .nas/)"
# The demo runs on loopback only, so it serves plaintext without tokens; the
# controller refuses --plaintext on other addresses. For TLS and tokens see
# docs/security.md (scripts/make_certs.sh makes what it needs).
export NAS_PLAINTEXT=true
build/controller/nas-controller --listen="$CONTROLLER" --database_url="$DB_URL" \
  --plaintext --http_listen="$DASHBOARD" >"$RUN_DIR/controller.log" 2>&1 &
PIDS+=($!)
# One LibTorch thread per worker: the workers share the machine's cores.
THREADS=$(( $(nproc) / WORKERS )); (( THREADS < 1 )) && THREADS=1
for i in $(seq 1 "$WORKERS"); do
  build/worker/nas-worker --controller="$CONTROLLER" --device=auto --plaintext \
    --data_dir="$ROOT/data" --threads="$THREADS" >"$RUN_DIR/worker-$i.log" 2>&1 &
  PIDS+=($!)
done

export NAS_CONTROLLER="$CONTROLLER"
NASCTL=build/nasctl/nasctl
for _ in $(seq 1 50); do $NASCTL searches >/dev/null 2>&1 && break; sleep 0.2; done

step "Submitting $SPEC"
SEARCH_ID=$($NASCTL submit "$SPEC" -o json | sed -n 's/.*"id":"\{0,1\}\([0-9]*\).*/\1/p' | head -n 1)
echo "search $SEARCH_ID; in a browser on this machine: http://$DASHBOARD/searches/$SEARCH_ID"
step "Watching search $SEARCH_ID"
$NASCTL watch "$SEARCH_ID"

step "Best architectures of search $SEARCH_ID"
$NASCTL best "$SEARCH_ID" -k 5
elapsed=$(( $(date +%s) - demo_start ))
echo
echo "Search finished in ${elapsed}s (controller, workers and search; build and data excluded)."
echo
READER_URL=${DB_URL/nas:nas@/nas_reader:nas_reader@}
echo "Trial history in SQL (PostgreSQL keeps running; stop it with: scripts/pg_local.sh stop $PG_DIR):"
echo "  psql '$READER_URL' -c 'SELECT * FROM best_trials WHERE search_id = $SEARCH_ID'"
echo "  psql '$READER_URL' -c 'SELECT * FROM epoch_metrics WHERE search_id = $SEARCH_ID'"
$NASCTL plot "$SEARCH_ID" -o "$RUN_DIR/search-$SEARCH_ID.png" >/dev/null &&
  echo "Its chart: $RUN_DIR/search-$SEARCH_ID.png (nasctl plot), and the dashboard while this script runs."

# The answer, taken away: the best trained network as files, used without
# the service (docs/export.md). A tabular search trains none; say so, go on.
MODEL_DIR="$RUN_DIR/model-$SEARCH_ID"
step "Exporting the best model of search $SEARCH_ID to $MODEL_DIR"
if $NASCTL export "$SEARCH_ID" -o "$MODEL_DIR"; then
  DATA_NAME=$(sed -n 's/.*"dataset": *"DATASET_NAME_\([A-Z0-9_]*\)".*/\1/p' \
    "$MODEL_DIR/model.json" | tr '[:upper:]' '[:lower:]')
  TEST_IMAGES="$ROOT/data/$DATA_NAME/t10k-images-idx3-ubyte"
  if [[ -f $TEST_IMAGES ]]; then
    step "Classifying 8 test images with it (nas-predict; PNG and JPEG work too)"
    build/worker/nas-predict "$MODEL_DIR" "$TEST_IMAGES" \
      --labels "$ROOT/data/$DATA_NAME/t10k-labels-idx1-ubyte" --limit 8
    step "The same model in PyTorch (nas_client.load_model), saved as ONNX"
    # Debian's Python, which has the packages install_deps.sh installed.
    PYTHON=${PYTHON:-/usr/bin/python3}
    "$PYTHON" clients/python/generate_stubs.py &&
      PYTHONPATH=clients/python "$PYTHON" examples/python/use_exported_model.py \
        "$MODEL_DIR" "$TEST_IMAGES" "$ROOT/data/$DATA_NAME/t10k-labels-idx1-ubyte" ||
      echo "(the Python client needs python3-grpcio and python3-torch: scripts/install_deps.sh)"
  fi
fi
