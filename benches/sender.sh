#!/usr/bin/env bash
# `smtpdiag sender` at a known round trip: does every check of a sending domain finish in
# about the time of its longest chain of dependent DNS lookups? The lab resolver sits
# behind benches/delay (every query costs RTT_MS); each case is measured with hyperfine and
# divided by its longest chain x RTT_MS, in the same run as the process start-up.
# Runs only inside tests/lab/isolated (the lab must be up; nothing leaves loopback):
#   tests/lab/isolated benches/sender.sh
# Environment: RTTS ("20 50"), RUNS (10).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-10}
proxy_dns=127.0.0.154

# shellcheck source=benches/lib.sh
. benches/lib.sh
require_isolated_lab
command -v hyperfine >/dev/null || { echo "hyperfine is missing (apt-get install hyperfine)" >&2; exit 1; }
cargo build --release --quiet --bin smtpdiag --example delay-proxy
bin=$PWD/target/release/smtpdiag
work=$(mktemp -d)
proxy_args=(--dns "$proxy_dns:53=127.0.0.153:53")
cleanup() { stop_proxy; rm -rf "$work"; }
trap cleanup EXIT

print_machine

# name | longest chain of dependent lookups | arguments. The chains (docs/lab.md zones):
#  - sender.test, four addresses, two DKIM selectors, HELO, the seven default lists: SPF
#    is 1 (the record; ip4 terms ask nothing), DMARC 1, DKIM 1, HELO 1, a blocklist 1
#    (and its TXT when listed), reverse DNS 2 (PTR, then the A of the name): 2.
#  - include.sender.test: the record, then the included record: 2 (reverse DNS: 2).
#  - news@macro.sender.test: the record, then the exists: name: 2.
cases=(
  "all-checks|2|sender.test --ip 127.0.3.1 --ip 127.0.3.2 --ip 127.0.3.3 --ip 127.0.3.4 --helo mail.sender.test --dkim-selector s2048 --dkim-selector s1024"
  "include|2|include.sender.test --ip 127.0.3.1 --helo mail.sender.test --no-dnsbl"
  "macro|2|news@macro.sender.test --ip 127.0.3.1 --no-dnsbl"
)

for rtt in ${RTTS:-20 50}; do
  start_proxy "$rtt"
  echo
  echo "round trip: $rtt ms (every DNS query)"
  commands=()
  for case in "${cases[@]}"; do
    IFS='|' read -r name chain args <<<"$case"
    # shellcheck disable=SC2086 # the arguments are words on purpose
    "$bin" sender $args --resolver "$proxy_dns" --json >"$work/$name.json" || true
    python3 - "$work/$name.json" "$name" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
n = (len(r["lookups"]) + sum(len(e["lookups"]) for e in r["spf"]["evaluations"])
     + len(r["spf"]["lookups"]) + len(r["dmarc"]["lookups"]) + len(r["dkim"]))
print(f'check {sys.argv[2]}: verdict {r["verdict"]}, '
      f'spf {[e["result"] for e in r["spf"]["evaluations"]]}, {n} lookups')
open(sys.argv[1] + ".count", "w").write(str(n))
PY
    commands+=(--command-name "$name" "$bin sender $args --resolver $proxy_dns --json")
  done
  commands+=(--command-name start-up "$bin --version")
  hyperfine --shell=none --style basic --warmup 1 --runs "$runs" -i \
    --export-json "$work/hyperfine.json" "${commands[@]}" >"$work/hyperfine.log" 2>&1 ||
    { cat "$work/hyperfine.log"; exit 1; }
  chains=$(for case in "${cases[@]}"; do IFS='|' read -r name chain _ <<<"$case"; printf '%s=%s ' "$name" "$chain"; done)
  python3 - "$work" "$rtt" $chains <<'PY'
import json, sys
work, rtt = sys.argv[1], float(sys.argv[2])
chains = dict(a.split("=") for a in sys.argv[3:])
results = json.load(open(f"{work}/hyperfine.json"))["results"]
print(f'{"case":<11} {"lookups":>7} {"chain":>5} {"bound ms":>8} {"sum ms":>7} {"median ms":>9} {"min ms":>7} {"median/bound":>12}')
for r in results:
    times = sorted(t * 1000 for t in r["times"])
    median = times[len(times) // 2]
    name = r["command"]
    if name == "start-up":
        print(f'{name:<11} {"":>7} {"":>5} {"":>8} {"":>7} {median:>9.1f} {times[0]:>7.1f}')
        continue
    n = int(open(f"{work}/{name}.json.count").read())
    chain = int(chains[name])
    bound = chain * rtt
    print(f'{name:<11} {n:>7} {chain:>5} {bound:>8.0f} {n * rtt:>7.0f} {median:>9.1f} {times[0]:>7.1f} {median / bound:>12.2f}')
PY
done
