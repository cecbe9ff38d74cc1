#!/usr/bin/env bash
# A batch of 1,000 lab domains: wall time and peak memory, against a batch of 100 measured in
# the same run (memory must stay flat in the size of the list: the input and the output are
# streamed). Needs the lab (tests/lab/start) and GNU time (apt-get install time).
# Usage: benches/batch.sh [CONCURRENCY]
set -euo pipefail
cd "$(dirname "$0")/.."
concurrency=${1:-16}
tests/lab/status >/dev/null || { echo "the lab is not running: tests/lab/start" >&2; exit 1; }
cargo build --release --quiet
bin=target/release/smtpdiag
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for n in 100 1000; do
  for i in $(seq 1 "$n"); do printf 'd%04d.batch.test\n' "$i"; done > "$work/list-$n"
done
printf '%-8s %-6s %10s %12s %10s\n' domains runs "wall s" "peak RSS KiB" "lines"
declare -A wall rss
for n in 100 1000; do
  for run in 1 2 3; do
    /usr/bin/time -f '%e %M' -o "$work/time" \
      "$bin" -f "$work/list-$n" --resolver 127.0.0.153 --helo bench.smtpdiag.test \
      --json --concurrency "$concurrency" > "$work/out" || true
    read -r seconds kib < "$work/time"
    lines=$(wc -l < "$work/out")
    printf '%-8s %-6s %10s %12s %10s\n' "$n" "$run" "$seconds" "$kib" "$lines"
    wall[$n]=$seconds; rss[$n]=$kib
  done
done
ok=$(grep -c '"verdict":"ok"' "$work/out" || true)
echo "last 1000-domain run: $ok of 1000 domains deliverable"
python3 - "${wall[100]}" "${wall[1000]}" "${rss[100]}" "${rss[1000]}" <<'PY'
import sys
w100, w1000, r100, r1000 = map(float, sys.argv[1:])
print(f"wall: 1000 domains take {w1000 / w100:.1f}x the time of 100 ({w1000 / 1000 * 1000:.1f} ms per domain)")
print(f"peak RSS: 1000 domains use {r1000 / r100:.2f}x the memory of 100 ({r1000 / 1024:.1f} MiB)")
PY
