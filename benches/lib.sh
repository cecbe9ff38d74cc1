# Shared by the round-trip benchmarks (network.sh, transport.sh, sender.sh): sourced, not run.
# They need the lab inside tests/lab/isolated and benches/delay's proxy in front of it.

# Refuses to run outside a private network namespace, or without the lab.
require_isolated_lab() {
  if [ "$(readlink /proc/self/ns/net)" = "$(readlink /proc/1/ns/net)" ]; then
    echo "run me under tests/lab/isolated: the lab and the proxy's addresses are its own" >&2
    exit 2
  fi
  tests/lab/status >/dev/null || { echo "the lab is not running" >&2; exit 1; }
}

# The machine and its load, for the record next to the figures.
print_machine() {
  printf 'machine: %s, %s vCPU, %s, load average %s\n' \
    "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" "$(nproc)" \
    "$(. /etc/os-release && echo "$PRETTY_NAME")" "$(cut -d' ' -f1-3 /proc/loadavg)"
}

# start_proxy RTT_MS: (re)starts target/release/examples/delay-proxy with the relays in
# the array `proxy_args`, its output in $work/proxy.out (fresh connection counters too).
proxy_pid=
start_proxy() {
  stop_proxy
  target/release/examples/delay-proxy "$1" "${proxy_args[@]}" >"$work/proxy.out" &
  proxy_pid=$!
  for _ in $(seq 1 100); do grep -q '^ready' "$work/proxy.out" && break; sleep 0.05; done
  grep -q '^ready' "$work/proxy.out" || { echo "delay-proxy did not start" >&2; exit 1; }
}

stop_proxy() {
  if [ -n "$proxy_pid" ]; then
    kill "$proxy_pid" 2>/dev/null || true
    wait "$proxy_pid" 2>/dev/null || true
    proxy_pid=
  fi
}
