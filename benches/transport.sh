#!/usr/bin/env bash
# Does the transport security policy overlap with the SMTP dialogue? The lab behind
# benches/delay-proxy, every DNS query and every TCP round trip costing the round trip; the
# probe of slow.dane.test (DNSSEC-signed, DANE 3 1 1 on its MX, MTA-STS enforce with its
# policy host behind the proxy too, TLS-RPT) measured in one run with hyperfine:
#   policy      the full probe
#   no-policy   the same with --no-policy (no TLSA, no MTA-STS, no TLS-RPT)
#   no-smtp     --no-smtp: the DNS and HTTPS of the policy (and the blocklists) alone
# against the lower bound, the longest chain of round trips that cannot overlap:
#   dialogue  MX -> A -> connect -> greeting -> EHLO -> STARTTLS -> TLS 1.3 -> EHLO ->
#             MAIL+RCPT pipelined                                              9 round trips
#   MTA-STS   _mta-sts TXT -> A of mta-sts.<domain> -> connect -> TLS 1.3 (the HTTP GET
#             leaves with the client's Finished) -> response             5 round trips
#   DANE      MX -> TLSA of the MX                                              2 round trips
#   TLS-RPT   _smtp._tls TXT                                                    1 round trip
# so bound = 9 round trips; the policy costs nothing when policy/no-policy stays near 1.
# Runs only inside tests/lab/isolated (the proxy's addresses and the lab are its own):
#   tests/lab/isolated benches/transport.sh
# Environment: RTTS ("20 50", round trips in ms), RUNS (20), NO_BUILD=1.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-20}
state=${SMTPDIAG_LAB_DIR:-/tmp/smtpdiag-lab}
proxy_dns=127.0.0.154

# shellcheck source=benches/lib.sh
. benches/lib.sh
require_isolated_lab
# NO_BUILD=1: measure the binaries already in target/release.
[ "${NO_BUILD:-0}" = 1 ] || cargo build --release --quiet --bin smtpdiag --example delay-proxy
bin=$PWD/target/release/smtpdiag
work=$(mktemp -d)

# DNS to unbound; the DANE listener (its certificate names mx.slow.dane.test); nginx, which
# serves mta-sts.slow.dane.test by SNI.
proxy_args=(--dns "$proxy_dns:53=127.0.0.153:53" --tcp "127.0.2.21:25=127.0.0.21:25"
  --tcp "127.0.2.40:443=127.0.0.40:443")
cleanup() { stop_proxy; rm -rf "$work"; }
trap cleanup EXIT

print_machine

bound_trips=9
diag=(slow.dane.test --resolver "$proxy_dns" --ca-file "$state/tls/ca.pem"
  --helo bench.smtpdiag.test --json)
for rtt in ${RTTS:-20 50}; do
  start_proxy "$rtt"
  echo
  echo "round trip: $rtt ms"
  "$bin" "${diag[@]}" >"$work/one.json" || true
  python3 - "$work/one.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
t = r["transport"]
sts = t["mta_sts"]
codes = sorted({f["kind"] for f in r["findings"]})
print(f'check: verdict {r["verdict"]}, dnssec {t["dnssec"]}, '
      f'tlsa {[x["dnssec"] for x in t["tlsa"]]}, mta-sts fetch {sts["fetch"]["status"]} '
      f'{sts["fetch"].get("code")} in {sts["fetch"]["duration_ms"]:.0f} ms, '
      f'mode {sts.get("policy", {}).get("mode")}, findings {codes}')
if r["verdict"] != "ok" or t["dnssec"] != "secure" or sts.get("policy", {}).get("mode") != "enforce":
    sys.exit("slow.dane.test should be healthy, signed and enforce MTA-STS: is the lab up to date?")
PY
  hyperfine --shell=none --style basic --warmup 2 --runs "$runs" -i \
    --export-json "$work/transport.json" \
    --command-name policy "$bin ${diag[*]}" \
    --command-name no-policy "$bin ${diag[*]} --no-policy" \
    --command-name no-smtp "$bin ${diag[*]} --no-smtp" \
    >"$work/hyperfine.log" 2>&1 || { cat "$work/hyperfine.log"; exit 1; }
  python3 - "$work/transport.json" "$rtt" "$bound_trips" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
rtt, trips = float(sys.argv[2]), int(sys.argv[3])
bound = rtt * trips
median = {}
print(f"lower bound: max(dialogue 9, MTA-STS 5, DANE 2) round trips x {rtt:.0f} ms = {bound:.0f} ms")
print(f'{"command":<10} {"median ms":>10} {"min ms":>8} {"max ms":>8} {"/bound":>7} {"/no-policy":>11}')
for r in results:
    times = sorted(t * 1000 for t in r["times"])
    median[r["command"]] = times[len(times) // 2]
for r in results:
    times = sorted(t * 1000 for t in r["times"])
    m = median[r["command"]]
    print(f'{r["command"]:<10} {m:>10.1f} {times[0]:>8.1f} {times[-1]:>8.1f} '
          f'{m / bound:>7.2f} {m / median["no-policy"]:>11.2f}')
PY
done
