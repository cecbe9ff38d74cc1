#!/usr/bin/env bash
# Batches of generated lab domains (dNNNN.batch.test, ten servers): wall time, throughput
# and peak memory at each size, measured in the same run (memory must stay flat in the size
# of the list: the input and the output are streamed). No added delay: this is the
# engine's own cost. Needs a lab generated with at least the largest size and GNU time:
#   SMTPDIAG_LAB_BATCH_DOMAINS=100000 tests/lab/isolated benches/batch.sh
# Environment: SIZES ("10000 100000"), RUNS (1), CONCURRENCY (64).
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=${SIZES:-10000 100000}
runs=${RUNS:-1}
concurrency=${CONCURRENCY:-64}
tests/lab/status >/dev/null || { echo "the lab is not running: see docs/lab.md" >&2; exit 1; }
largest=$(printf '%s\n' $sizes | sort -n | tail -1)
if ! dig +short "d$(printf '%04d' "$largest").batch.test" MX @127.0.0.153 | grep -q batch; then
  echo "the lab has fewer than $largest batch domains: start it with SMTPDIAG_LAB_BATCH_DOMAINS=$largest" >&2
  exit 1
fi
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
# The same targets as benches/network.sh and run-all.sh: building the binary alone unifies
# the dependencies' features differently and rebuilds everything.
cargo build --release --quiet --bin smtpdiag --example delay-proxy
bin=target/release/smtpdiag
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for n in $sizes; do
  awk -v n="$n" 'BEGIN { for (i = 1; i <= n; i++) printf "d%04d.batch.test\n", i }' >"$work/list-$n"
done
printf '%-8s %-4s %9s %11s %13s %9s %7s\n' domains run "wall s" "domains/s" "peak RSS MiB" lines ok
for n in $sizes; do
  for run in $(seq 1 "$runs"); do
    /usr/bin/time -f '%e %M' -o "$work/time" \
      "$bin" -f "$work/list-$n" --resolver 127.0.0.153 --helo bench.smtpdiag.test \
      --json --concurrency "$concurrency" >"$work/out" || true
    read -r seconds kib <"$work/time"
    lines=$(wc -l <"$work/out")
    ok=$(grep -c '"verdict":"ok"' "$work/out" || true)
    printf '%-8s %-4s %9s %11.0f %13.1f %9s %7s\n' "$n" "$run" "$seconds" \
      "$(echo "$n / $seconds" | bc -l)" "$(echo "$kib / 1024" | bc -l)" "$lines" "$ok"
  done
done
