#!/usr/bin/env bash
# Round-trip benchmarks: the lab behind benches/delay-proxy, every DNS query and every TCP
# round trip costing RTT_MS. Measures, in one run:
#   0. on plain loopback (no proxy), how often the healthy Postfix held its reply to the
#      EHLO after the TLS handshake for the client's acknowledgement of its session ticket;
#   1. the critical path: a full diagnosis of a healthy two-MX domain (default blocklists,
#      reverse DNS, STARTTLS, MAIL, RCPT) against the round trips that cannot overlap,
#      with the round trip the proxy really delivers and how often the server held its
#      reply to the EHLO after the TLS handshake (the proxy charges acknowledgements as a
#      path would, see benches/delay/mod.rs); twice:
#      noticket.slow.test, whose first MX sends no TLS session ticket, and
#      twomx.slow.test, whose first MX (Postfix's defaults) sends one;
#   2. smtpdiag on DOMAINS lab domains (one batch) against `swaks --quit-after RCPT` per
#      domain in a loop and checkdmarc (MX and STARTTLS checks) on the same list, with
#      the number of connections open at once on each server.
# Runs only inside tests/lab/isolated (it bind-mounts a resolv.conf naming the delaying
# resolver over /etc/resolv.conf, which only a private mount namespace may do):
#   tests/lab/isolated benches/network.sh
# Environment: RTT_MS (20), RUNS (20), DOMAINS (200), CONCURRENCY (32), BASELINE_BIN (an
# older smtpdiag binary measured in the same run), RTTS (round trips of the critical path,
# "$RTT_MS" by default), CHECKDMARC (its path; benches/run-all.sh installs it in a venv
# under /tmp/smtpdiag-bench-venv), SKIP_PEERS=1 (only part 1).
set -euo pipefail
cd "$(dirname "$0")/.."
rtt=${RTT_MS:-20}
runs=${RUNS:-20}
domains=${DOMAINS:-200}
concurrency=${CONCURRENCY:-32}
state=${SMTPDIAG_LAB_DIR:-/tmp/smtpdiag-lab}
proxy_dns=127.0.0.154

# shellcheck source=benches/lib.sh
. benches/lib.sh
# Also: it changes /etc/resolv.conf, which only a private mount namespace may do.
require_isolated_lab
cargo build --release --quiet --bin smtpdiag --example delay-proxy
bin=$PWD/target/release/smtpdiag
work=$(mktemp -d)

# --- the delaying proxy: DNS on 127.0.0.154:53, SMTP on 127.0.2.0/24:25 -------------------
proxy_args=(--dns "$proxy_dns:53=127.0.0.153:53" --tcp "127.0.2.100:25=127.0.0.10:25"
  --tcp "127.0.2.101:25=127.0.0.22:25")
for n in $(seq 1 10); do proxy_args+=(--tcp "127.0.2.$n:25=127.0.1.$n:25"); done
cleanup() { stop_proxy; rm -rf "$work"; }
trap cleanup EXIT
# Tools that use the system resolver (swaks's MX lookup, checkdmarc's SMTP connections)
# ask the delaying one; this namespace only.
printf 'nameserver %s\noptions timeout:2 attempts:1\n' "$proxy_dns" >"$work/resolv.conf"
mount --bind "$work/resolv.conf" /etc/resolv.conf

print_machine
echo "every DNS query and every TCP round trip through benches/delay costs the round trip below"

# --- 0. the client's acknowledgements, on plain loopback ------------------------------------
# Straight to the lab's healthy Postfix (TLS session ticket, Nagle's algorithm on), no proxy:
# how long the EHLO after the TLS handshake takes, and how often its reply waited for the
# client's delayed acknowledgement of the ticket (more than 20 ms on loopback).
echo "plain loopback, healthy.test (no proxy), $runs runs each: the EHLO after the TLS handshake"
for candidate in "$bin" ${BASELINE_BIN:+"$BASELINE_BIN"}; do
  for n in $(seq 1 "$runs"); do
    "$candidate" healthy.test --resolver 127.0.0.153 --ca-file "$state/tls/ca.pem" \
      --helo bench.smtpdiag.test --no-policy --json || true
    echo
  done | python3 -c '
import json, statistics, sys
times = []
for line in sys.stdin:
    if line.strip():
        steps = json.loads(line)["sessions"][0]["steps"]
        times += [s["duration_ms"] for s in steps if s["stage"] == "ehlo" and s["tls"]]
label = "smtpdiag" if sys.argv[1] == sys.argv[2] else "baseline"
print(f"{label:<12} median {statistics.median(times):6.1f} ms, max {max(times):6.1f} ms,"
      f" held over 20 ms in {sum(t > 20 for t in times)} of {len(times)}")
' "$candidate" "$bin"
done

# --- 1. the critical path ------------------------------------------------------------------
# MX -> address -> connect -> greeting -> EHLO -> STARTTLS -> TLS handshake (1.3: one round
# trip) -> EHLO -> MAIL+RCPT pipelined. A server that sends a TLS session ticket with
# Nagle's algorithm on (twomx.slow.test's first MX: Postfix's defaults) holds its reply to
# the EHLO after the handshake until the ticket is acknowledged: one round trip more for
# any client, its floor.
bound_trips=9
for rtt_now in ${RTTS:-$rtt}; do
start_proxy "$rtt_now"
for domain in ${CRITICAL_DOMAINS:-noticket.slow.test twomx.slow.test}; do
diag=("$domain" --resolver "$proxy_dns" --ca-file "$state/tls/ca.pem"
  --helo bench.smtpdiag.test --json)
echo "round trip: $rtt_now ms, $domain"
case $domain in
  twomx.*) floor_trips=$((bound_trips + 1)) ;;
  *) floor_trips=$bound_trips ;;
esac
"$bin" "${diag[@]}" >"$work/one.json" || true
python3 - "$work/one.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["sessions"][0]
steps = " ".join(
    f'{st["stage"]}{"(p)" if st.get("pipelined") else ""}' for st in s["steps"])
print(f'check: verdict {r["verdict"]}, {len(r["mx"])} MX, {len(r["dnsbl"])} blocklist answers, '
      f'tls {s["tls"] and s["tls"]["version"]}, steps: {steps}')
if r["verdict"] != "ok":
    sys.exit(f'{r["domain"]} should be healthy: is the lab up to date?')
PY
commands=(--command-name smtpdiag "$bin ${diag[*]}")
if [ -n "${BASELINE_BIN:-}" ]; then
  commands+=(--command-name baseline "$BASELINE_BIN ${diag[*]}")
fi
commands+=(--command-name start-up "$bin --version")
hyperfine --shell=none --style basic --warmup 2 --runs "$runs" -i \
  --export-json "$work/critical.json" "${commands[@]}" >"$work/hyperfine.log" 2>&1 ||
  { cat "$work/hyperfine.log"; exit 1; }
# Where the time goes, besides the tool: the round trip the proxy really delivers (RUNS DNS
# queries straight to it, one after another), and in RUNS more diagnoses, how often the
# server held its reply to the EHLO after the TLS handshake (a step of 1.5 round trips or
# more: Postfix writes its TLS 1.3 session ticket and the EHLO reply separately, and Nagle's
# algorithm holds the second until the first is acknowledged).
for n in $(seq 1 "$runs"); do
  "$bin" "${diag[@]}" >"$work/run.$n.json" || true
done
python3 - "$work/critical.json" "$rtt_now" "$bound_trips" "$proxy_dns" "$runs" "$work" \
  "$floor_trips" <<'PY'
import json, socket, statistics, struct, sys, time
results = json.load(open(sys.argv[1]))["results"]
rtt, trips, resolver, runs = float(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
floor_trips = int(sys.argv[7])
query = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"".join(
    bytes([len(label)]) + label.encode() for label in "twomx.slow.test".split(".")) + b"\0\0\x0f\0\x01"
delivered = []
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    s.settimeout(5)
    for _ in range(runs):
        t0 = time.perf_counter()
        s.sendto(query, (resolver, 53))
        s.recv(4096)
        delivered.append((time.perf_counter() - t0) * 1000)
delivered_rtt = statistics.median(delivered)
stalls = 0
for n in range(1, runs + 1):
    report = json.load(open(f"{sys.argv[6]}/run.{n}.json"))
    steps = report["sessions"][0]["steps"] if report["sessions"] else []
    after_tls = [s for s in steps if s["stage"] == "ehlo" and s["tls"]]
    stalls += any(s["duration_ms"] >= 1.5 * rtt for s in after_tls)
bound = rtt * trips
floor = rtt * floor_trips
print(f"lower bound: {trips} round trips x {rtt:.0f} ms = {bound:.0f} ms")
if floor_trips != trips:
    print(f"this server's floor: {floor_trips} round trips = {floor:.0f} ms (its EHLO reply"
          " waits for the acknowledgement of its TLS session ticket)")
print(f"round trip the proxy delivers (median of {runs} DNS queries): {delivered_rtt:.1f} ms"
      f" ({trips} of them: {trips * delivered_rtt:.0f} ms)")
print(f"server held its EHLO reply after the TLS handshake in {stalls} of {runs} further runs")
print(f'{"command":<12} {"median ms":>10} {"min ms":>8} {"max ms":>8} {"median/bound":>13}'
      f' {"median/floor":>13}')
for r in results:
    times = sorted(t * 1000 for t in r["times"])
    median = times[len(times) // 2]
    ratios = ("", "") if r["command"] == "start-up" else (
        f"{median / bound:.2f}", f"{median / floor:.2f}")
    print(f'{r["command"]:<12} {median:>10.1f} {times[0]:>8.1f} {times[-1]:>8.1f}'
          f' {ratios[0]:>13} {ratios[1]:>13}')
PY
rm -f "$work"/run.*.json
done
done
[ "${SKIP_PEERS:-0}" = 1 ] && exit 0

# --- 2. against swaks and checkdmarc -----------------------------------------------------
for n in $(seq 1 "$domains"); do printf 'd%04d.slow.test\n' "$n"; done >"$work/list"
checkdmarc=${CHECKDMARC:-/tmp/smtpdiag-bench-venv/bin/checkdmarc}
[ -x "$checkdmarc" ] || { echo "no checkdmarc at $checkdmarc: benches/run-all.sh installs it" >&2; exit 1; }
peaks() { # the most connections open at once on any one SMTP server since the last call
  local most
  most=$(awk '$1 == "peak" && $2 ~ /:25$/ {print $3}' "$work/proxy.out" | sort -n | tail -1)
  echo "${most:-0}"
}
now() { date +%s.%N; }

start_proxy "$rtt"
t0=$(now)
"$bin" -f "$work/list" --resolver "$proxy_dns" --helo bench.smtpdiag.test --json \
  --concurrency "$concurrency" >"$work/smtpdiag.jsonl" || true
t1=$(now)
smtpdiag_s=$(echo "$t1 - $t0" | bc)
smtpdiag_ok=$(grep -c '"verdict":"ok"' "$work/smtpdiag.jsonl" || true)
smtpdiag_peak=$(peaks)

# swaks looks the MX up itself (Net::DNS, through the resolv.conf above), like smtpdiag.
start_proxy "$rtt"
t0=$(now)
swaks_ok=0
while read -r domain; do
  if swaks --to "postmaster@$domain" --from "<>" --helo bench.smtpdiag.test \
      --quit-after RCPT --timeout 10 >"$work/swaks.out" 2>&1; then
    swaks_ok=$((swaks_ok + 1))
  fi
done <"$work/list"
t1=$(now)
swaks_s=$(echo "$t1 - $t0" | bc)
swaks_peak=$(peaks)

start_proxy "$rtt"
t0=$(now)
"$checkdmarc" --nameserver "$proxy_dns" --check-mx-tls --timeout 5 -f json \
  "$work/list" >"$work/checkdmarc.json" 2>"$work/checkdmarc.err" || true
t1=$(now)
checkdmarc_s=$(echo "$t1 - $t0" | bc)
checkdmarc_peak=$(peaks)
checkdmarc_ok=$(python3 -c '
import json, sys
data = json.load(open(sys.argv[1]))
data = data if isinstance(data, list) else [data]
print(sum(1 for d in data if d.get("mx", {}).get("hosts")))' "$work/checkdmarc.json" 2>/dev/null || echo "?")

echo
echo "$domains lab domains (dNNNN.slow.test, 10 servers), one run each:"
printf '%-44s %8s %10s %9s %12s\n' tool seconds "domains/s" "answered" "peak conns"
row() { printf '%-44s %8.2f %10.1f %9s %12s\n' "$1" "$2" "$(echo "$domains / $2" | bc -l)" "$3" "$4"; }
row "smtpdiag -f LIST --concurrency $concurrency" "$smtpdiag_s" "$smtpdiag_ok" "$smtpdiag_peak"
row "swaks --quit-after RCPT, loop" "$swaks_s" "$swaks_ok" "$swaks_peak"
row "checkdmarc --check-mx-tls" "$checkdmarc_s" "$checkdmarc_ok" "$checkdmarc_peak"
printf 'smtpdiag is %.1fx faster than the swaks loop, %.1fx faster than checkdmarc\n' \
  "$(echo "$swaks_s / $smtpdiag_s" | bc -l)" "$(echo "$checkdmarc_s / $smtpdiag_s" | bc -l)"
