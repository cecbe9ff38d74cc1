#!/usr/bin/env bash
# benches/logs.sh: `smtpdiag logs` against pflogsumm on the same synthetic Postfix logs of
# 100,000 and 1,000,000 lines (benches/gen-postfix-log.py: about 84 % sent, 10 % deferred,
# 6 % bounced, 3,000 destination domains). Reports wall time, throughput (lines/s), peak
# RSS (/usr/bin/time -v) and the speed-up over pflogsumm; smtpdiag's memory should be
# nearly the same for both sizes. Installs pflogsumm and time with apt-get if missing.
#
#   benches/logs.sh              # both sizes, best of 3 runs each
#   RUNS=1 SIZES=100000 benches/logs.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

runs=${RUNS:-3}
sizes=${SIZES:-"100000 1000000"}
dir=${BENCH_DIR:-target/bench-logs}
mkdir -p "$dir"

missing=()
command -v pflogsumm >/dev/null || missing+=(pflogsumm)
[ -x /usr/bin/time ] || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cargo build --release --quiet
smtpdiag=target/release/smtpdiag

# Best of $runs: "seconds max_rss_kb"
measure() {
  local best=""
  for _ in $(seq "$runs"); do
    /usr/bin/time -f "%e %M" -o "$dir/time.txt" "$@" >/dev/null 2>"$dir/stderr.txt" || true
    # The last line: time(1) writes "Command exited with non-zero status N" before it
    # (smtpdiag exits 1 or 2 when the log has failures).
    read -r secs rss < <(tail -n 1 "$dir/time.txt")
    if [ -z "$best" ] || awk -v a="$secs" -v b="${best%% *}" 'BEGIN { exit !(a < b) }'; then
      best="$secs $rss"
    fi
  done
  echo "$best"
}

printf '%-10s %-22s %8s %14s %12s\n' lines tool seconds lines/s "peak RSS"
for n in $sizes; do
  log="$dir/postfix-$n.log"
  [ -s "$log" ] || python3 benches/gen-postfix-log.py "$n" >"$log"
  read -r s_secs s_rss <<<"$(measure "$smtpdiag" logs "$log" --json)"
  read -r p_secs p_rss <<<"$(measure pflogsumm "$log")"
  rate() { awk -v n="$n" -v s="$1" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'; }
  printf '%-10s %-22s %8s %14s %9s KB\n' "$n" "smtpdiag logs --json" "$s_secs" "$(rate "$s_secs")" "$s_rss"
  printf '%-10s %-22s %8s %14s %9s KB\n' "$n" "pflogsumm" "$p_secs" "$(rate "$p_secs")" "$p_rss"
  awk -v a="$p_secs" -v b="$s_secs" 'BEGIN { printf "%-10s speed-up over pflogsumm: %.1fx\n", "", (b > 0 ? a / b : 0) }'
done
