#!/usr/bin/env bash
# cpu_seconds under run.sh's shell options, given one live process and one
# that has ended: it must print a figure and go on, not end its caller.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/cpu_seconds.sh"
out=$(cpu_seconds $$ 2147483647)
if [[ ! "$out" =~ ^[0-9]+\.[0-9]{3}$ ]]; then
  echo "cpu_seconds printed '$out', not a figure" >&2
  exit 1
fi
echo "cpu_seconds went on past an ended process: $out"
