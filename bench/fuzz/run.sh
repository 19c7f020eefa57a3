#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) and runs each for a
# fixed time; fails on any crash, sanitizer report, violated invariant,
# timeout or out-of-memory. See bench/fuzz/README.md.
#
#   bench/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to $NAS_FUZZ_SECONDS or 60. TARGETs default to
# all three: spec_yaml_fuzzer nb201_string_fuzzer space_choices_fuzzer.
# NAS_FUZZ_BUILD (default build-fuzz) holds the build, the corpora (kept
# between runs, so later runs start where earlier ones stopped), logs and
# any crashing input (artifacts/<target>/). As root it installs clang and
# the libFuzzer runtime with apt-get when they are missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)

SECONDS_PER_TARGET=${1:-${NAS_FUZZ_SECONDS:-60}}
[[ "$SECONDS_PER_TARGET" =~ ^[0-9]+$ ]] || { echo "run.sh: bad seconds: $SECONDS_PER_TARGET" >&2; exit 2; }
shift || true
TARGETS=("$@")
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=(spec_yaml_fuzzer nb201_string_fuzzer space_choices_fuzzer)
BUILD=$(realpath -m "${NAS_FUZZ_BUILD:-build-fuzz}")

log() { echo "fuzz: $*" >&2; }

# clang and a libFuzzer runtime that links.
have_libfuzzer() {
  command -v clang++ >/dev/null || return 1
  echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' |
    clang++ -fsanitize=fuzzer,address,undefined -x c++ - -o "$BUILD/probe" >/dev/null 2>&1
}
mkdir -p "$BUILD"
if ! have_libfuzzer; then
  if [[ $(id -u) -ne 0 ]]; then
    log "clang++ with libFuzzer is missing: install clang and libclang-rt-dev (as root: apt-get install clang libclang-rt-dev)"
    exit 1
  fi
  log "installing clang and the libFuzzer runtime"
  apt-get install -y --no-install-recommends clang libclang-rt-dev >&2 ||
    { apt-get update >&2 && apt-get install -y --no-install-recommends clang libclang-rt-dev >&2; }
  have_libfuzzer || { log "clang++ still cannot link a fuzzer"; exit 1; }
fi

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
CXX=clang++ cmake -S bench/fuzz -B "$BUILD" -G Ninja "${launcher[@]}" >"$BUILD/cmake.log" 2>&1 ||
  { cat "$BUILD/cmake.log" >&2; exit 1; }
ninja -C "$BUILD" "${TARGETS[@]}" >&2

# libFuzzer's own -rss_limit_mb is off: when it fires it walks every heap
# chunk for a memory profile, which took minutes on a runaway input. ASan's
# hard limit ends the run at once, with a report, and libFuzzer saves the
# input as usual.
export ASAN_OPTIONS=${ASAN_OPTIONS:-hard_rss_limit_mb=2048:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

seeds_for() {
  case "$1" in
    spec_yaml_fuzzer) echo "$ROOT/examples" ;;
    *) echo "$ROOT/bench/fuzz/seeds/${1%_fuzzer}" ;;
  esac
}

failed=0
# corpus: inputs libFuzzer keeps (each adds coverage); cov: edges covered.
printf '%-22s %8s %12s %10s %8s %6s %8s %s\n' target seconds execs exec/s corpus cov rss_mb result
for target in "${TARGETS[@]}"; do
  corpus="$BUILD/corpus/$target"
  artifacts="$BUILD/artifacts/$target"
  mkdir -p "$corpus" "$artifacts" "$BUILD/logs"
  logfile="$BUILD/logs/$target.log"
  dict=()
  [[ $target == spec_yaml_fuzzer ]] && dict=(-dict="$ROOT/bench/fuzz/spec.dict")
  set +e
  "$BUILD/$target" -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=0 \
    -timeout=10 -print_final_stats=1 -artifact_prefix="$artifacts/" \
    "${dict[@]}" "$corpus" "$(seeds_for "$target")" >"$logfile" 2>&1
  rc=$?
  set -e
  stat() { sed -n "s/^stat::$1: *//p" "$logfile" | tail -n 1; }
  result=ok
  if [[ $rc -ne 0 ]] || ls "$artifacts" | grep -q .; then
    result="FAILED (exit $rc; see $logfile, inputs in $artifacts)"
    failed=1
  fi
  last=$( (grep -E '^#[0-9]+' "$logfile" || true) | tail -n 1)
  printf '%-22s %8s %12s %10s %8s %6s %8s %s\n' "$target" "$SECONDS_PER_TARGET" \
    "$(stat number_of_executed_units)" "$(stat average_exec_per_sec)" \
    "$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")" \
    "$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")" \
    "$(stat peak_rss_mb)" "$result"
done
exit $failed
