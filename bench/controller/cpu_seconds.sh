# Sourced by run.sh (and its test in bench/controller/CMakeLists.txt).
#
# cpu_seconds PID...: the CPU seconds (utime + stime from /proc, in clock
# ticks) of the given processes, as one number. A process that ended
# between listing and reading counts nothing: PostgreSQL's autovacuum and
# parallel workers come and go, and under `set -e -o pipefail` a failed
# read of the last one would end the caller without a word.
cpu_seconds() {
  local ticks pid
  ticks=$(getconf CLK_TCK)
  for pid in "$@"; do cat "/proc/$pid/stat" 2>/dev/null || true; done |
    sed 's/.*) //' | awk -v t="$ticks" '{s += $12 + $13} END {printf "%.3f\n", s / t}'
}
