#!/usr/bin/env bash
# How long `smtpdiag explain 421` takes, wall clock, against a baseline measured in the same
# run: starting a process that does nothing (`true`). Needs hyperfine (apt-get install
# hyperfine). Usage: benches/explain.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-300}
cargo build --release --quiet
bin=target/release/smtpdiag
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
hyperfine --shell=none --warmup 20 --runs "$runs" --export-json "$out/explain.json" \
  --command-name baseline-true 'true' \
  --command-name 'explain 421' "$bin explain 421" \
  --command-name 'explain 421 --lang ja' "$bin explain 421 --lang ja" \
  --command-name 'explain 5.7.26 --json' "$bin explain 5.7.26 --json" \
  --command-name 'explain <gmail reply>' "$bin explain '550-5.7.26 This mail is unauthenticated, which poses a security risk to the sender and Gmail users, and has been blocked.'" \
  --command-name 'compare 421 554' "$bin compare 421 554" >/dev/null
python3 - "$out/explain.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
base = results[0]["mean"]
print(f"{'command':28} {'mean ms':>8} {'stddev':>8} {'max ms':>8} {'x baseline':>10}")
for r in results:
    print(f"{r['command']:28} {r['mean']*1e3:8.2f} {r['stddev']*1e3:8.2f} {r['max']*1e3:8.2f} {r['mean']/base:10.1f}")
PY
