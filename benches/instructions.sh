#!/usr/bin/env bash
# Instructions per request of each stack, counted by valgrind's callgrind:
# the count for 11,000 requests minus the count for 1,000, divided by 10,000,
# so start-up and warm-up cancel out.
#
#   benches/instructions.sh            # all stacks
#   benches/instructions.sh b c m      # some
#   benches/instructions.sh s          # SigV4Layer alone (aws-sigv4's signing included)
#   benches/instructions.sh aw bw cw   # calls that wait one poll for the head and each body frame
#   benches/instructions.sh a32 b32 c32  # whole calls over loopback, 32 callers at once
#
# CALLGRIND_OUT=dir keeps each run's profile there, for callgrind_annotate.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "needs valgrind (Debian: apt-get install valgrind)" >&2; exit 1; }

bin=$(cargo bench --bench instructions --features sigv4 --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "instructions" and m.get("executable"):
        print(m["executable"])')

count() {
  local out=/dev/null
  [ -z "${CALLGRIND_OUT:-}" ] || { mkdir -p "$CALLGRIND_OUT"; out="$CALLGRIND_OUT/callgrind.$1.$2"; }
  valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" "$1" "$2" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

stacks=("$@")
[ ${#stacks[@]} -gt 0 ] || stacks=(a b c m c1 c2 c3)
for s in "${stacks[@]}"; do
  small=$(count "$s" 1000)
  large=$(count "$s" 11000)
  echo "$s $(( (large - small) / 10000 ))"
done
