#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian 12 machine: installs packages,
# builds, prepares the data sets, starts a private PostgreSQL on loopback,
# runs every test, and stops PostgreSQL again.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

scripts/install_deps.sh
scripts/build.sh
scripts/prepare_data.sh "$ROOT/data"

PG_PORT=${NAS_TEST_PG_PORT:-55433}
PG_DIR=${NAS_TEST_PG_DIR:-/tmp/nas-test-pg-$PG_PORT}
URL=$(scripts/pg_local.sh start "$PG_DIR" "$PG_PORT" | tail -n 1)
trap 'scripts/pg_local.sh stop "$PG_DIR" >/dev/null 2>&1 || true' EXIT

export NAS_TEST_DATABASE_URL="$URL"
export NAS_DATA_DIR="$ROOT/data"
# --no-tests=error: a build without tests (or a filter that matches none)
# fails instead of passing having run nothing.
ctest --test-dir build --output-on-failure --no-tests=error -j2 "$@"
