#!/usr/bin/env bash
# How long `smtpdiag explain` takes, wall clock, against two baselines measured in the same
# run: starting a process that does nothing (`true`), and `smtpdiag explain 421` (a bare
# code, the cheapest page). Pasted replies of every common form are measured as a ratio
# to `explain 421`. Needs hyperfine (apt-get install hyperfine).
# Usage: benches/explain.sh [RUNS]
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
  --command-name 'paste: gmail 550-5.7.26' "$bin explain '550-5.7.26 This mail is unauthenticated, which poses a security risk to the sender and Gmail users, and has been blocked.'" \
  --command-name 'paste: postfix said' "$bin explain 'host mx.example.net[192.0.2.1] said: 550 5.1.1 <a@example.net>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command)'" \
  --command-name 'paste: exim --json' "$bin explain --json 'SMTP error from remote mail server after RCPT TO:<a@example.jp>: host mx.example.jp [192.0.2.2]: 550 5.2.2 <a@example.jp>... Mailbox Full'" \
  --command-name 'paste: qmail no code' "$bin explain 'Sorry, no mailbox here by that name. (#5.1.1)'" \
  --command-name 'paste: spam words' "$bin explain '550 5.7.1 Message content rejected, UBE, id=12345-01'" \
  --command-name 'paste: unknown words' "$bin explain '554 zzz yyy xxx www'" \
  --command-name 'compare 421 554' "$bin compare 421 554" >/dev/null
python3 - "$out/explain.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
base = results[0]["mean"]
code = results[1]["mean"]
print(f"{'command':28} {'mean ms':>8} {'stddev':>8} {'max ms':>8} {'x true':>7} {'x explain 421':>14}")
for r in results:
    print(f"{r['command']:28} {r['mean']*1e3:8.2f} {r['stddev']*1e3:8.2f} {r['max']*1e3:8.2f}"
          f" {r['mean']/base:7.1f} {r['mean']/code:14.2f}")
worst = max(r["mean"] for r in results if r["command"].startswith("paste:"))
print(f"slowest pasted reply: {worst/code:.2f}x explain 421 (goal: <= 2)")
PY
