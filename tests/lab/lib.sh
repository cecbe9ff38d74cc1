# shellcheck shell=bash
# Shared code of tests/lab/{start,stop,status,with-lab}. Sourced, not run.
#
# The lab: unbound (127.0.0.153:53, validating the lab's DNSSEC-signed zones
# with their keys as trust anchors), nsd (127.0.0.1:5301), rbldnsd
# (127.0.0.1:5302), postgrey (127.0.0.1:5303), one Postfix instance with
# one smtpd listener per scenario on port 25 of 127.0.0.10-22, 127.0.1.1-10
# and [::1], and nginx (127.0.0.40:443, MTA-STS policies). The sending side: a second Postfix instance (the client) and an
# Exim unpacked from Debian's .deb files, which listen on nothing and relay
# test messages to the scenario listeners (tests/lab/send-scenarios).
# Everything listens and talks on loopback only. Scenarios: docs/lab.md.

set -uo pipefail

LAB_HOME=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_CONF=$LAB_HOME/conf
STATE=${SMTPDIAG_LAB_DIR:-/tmp/smtpdiag-lab}
case $STATE in
  /*) ;;
  *) STATE=$PWD/$STATE ;;
esac
STATE=${STATE%/}
LOCK=$STATE.lock
MARKER=$STATE/.smtpdiag-lab

RESOLVER=127.0.0.153
NSD_ADDR=127.0.0.1
NSD_PORT=5301
RBL_PORT=5302
GREY_PORT=5303
# nginx: the MTA-STS policy hosts (https://mta-sts.<domain>/.well-known/mta-sts.txt).
STS_ADDR=127.0.0.40

# Postfix listeners: address and expected first three characters of the
# greeting ("-" = only check that it listens: the stalled banner).
SMTP_LISTENERS=(
  "127.0.0.10 220" "::1 220" "127.0.0.11 421" "127.0.0.12 554"
  "127.0.0.13 220" "127.0.0.14 220" "127.0.0.15 220" "127.0.0.16 220"
  "127.0.0.17 220" "127.0.0.18 -" "127.0.0.19 220" "127.0.0.20 220"
  "127.0.0.21 220" "127.0.0.22 220"
  "127.0.1.1 220" "127.0.1.2 220" "127.0.1.3 220" "127.0.1.4 220"
  "127.0.1.5 220" "127.0.1.6 220" "127.0.1.7 220" "127.0.1.8 220"
  "127.0.1.9 220" "127.0.1.10 220"
)

# package name -> a file it installs (checked to decide whether to install).
LAB_PACKAGES=(
  "postfix:/usr/sbin/postfix"
  "unbound:/usr/sbin/unbound"
  "nsd:/usr/sbin/nsd"
  "rbldnsd:/usr/sbin/rbldnsd"
  "postgrey:/usr/sbin/postgrey"
  "bind9-dnsutils:/usr/bin/dig"
  "swaks:/usr/bin/swaks"
  "netcat-openbsd:/bin/nc.openbsd"
  "openssl:/usr/bin/openssl"
  "curl:/usr/bin/curl"
  "ca-certificates:/etc/ssl/certs"
  "util-linux:/usr/bin/unshare"
  "iproute2:/usr/bin/ss"
  "procps:/usr/bin/pgrep"
  # the unpacked exim4-daemon-light needs it; nothing else of exim is installed
  "libidn12:/usr/lib/$(uname -m)-linux-gnu/libidn.so.12"
)

# The sending side (docs/lab.md, "The sending side").
PFCLIENT=$STATE/pfclient
EXIM=$STATE/exim/root/usr/sbin/exim4
# Debian packages that are only downloaded (kept in $DEB_CACHE, for offline
# runs) and unpacked into $STATE, never installed: exim4 conflicts with
# postfix; nginx, installed, would add a system service and a default site on
# port 80; ldnsutils signs the lab zones. Nothing of them outlives the lab.
EXIM_DEBS=(exim4-daemon-light exim4-base exim4-config)
NGINX_DEBS=(nginx)
LDNS_DEBS=(libldns3 ldnsutils)
UNPACKED_DEBS=("${EXIM_DEBS[@]}" "${NGINX_DEBS[@]}" "${LDNS_DEBS[@]}")
DEB_CACHE=${SMTPDIAG_LAB_DEB_CACHE:-/var/cache/smtpdiag-lab}
NGINX=$STATE/nginx/root/usr/sbin/nginx
LDNS_ROOT=$STATE/ldns/root

say() { printf 'lab: %s\n' "$*" >&2; }
die() { printf 'lab: ERROR: %s\n' "$*" >&2; exit 1; }

need_root() {
  [ "$(id -u)" -eq 0 ] || die "the lab needs root (it binds port 25 and 53, installs packages, uses unshare)"
}

# Serialise start/stop between concurrent callers (several test binaries).
# The lock is fd 9: every daemon is started with 9>&- so that none keeps it.
take_lock() {
  exec 9>"$LOCK" || die "cannot open lock file $LOCK"
  flock -w 600 9 || die "timed out after 600 s waiting for the lab lock $LOCK"
}

# Print the last lines of a log file, indented.
log_tail() {
  local f=$1 n=${2:-25}
  if [ -s "$f" ]; then
    printf '  --- last %s lines of %s ---\n' "$n" "$f" >&2
    tail -n "$n" "$f" | sed 's/^/  | /' >&2
  else
    printf '  (%s is empty or missing)\n' "$f" >&2
  fi
}

# ---------------------------------------------------------------- install --

missing_packages() {
  local entry pkg file installed
  local names=()
  for entry in "${LAB_PACKAGES[@]}"; do names+=("${entry%%:*}"); done
  installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${names[@]}" 2>/dev/null |
              awk '$NF == "installed" && $(NF-1) == "ok" {print $1}')
  for entry in "${LAB_PACKAGES[@]}"; do
    pkg=${entry%%:*}
    file=${entry#*:}
    if [ ! -e "$file" ] || ! grep -qx "$pkg" <<<"$installed"; then
      printf '%s\n' "$pkg"
    fi
  done
}

install_packages() {
  local missing
  missing=$(missing_packages | tr '\n' ' ')
  missing=${missing% }
  [ -z "$missing" ] && return 0
  command -v apt-get >/dev/null || die "missing packages ($missing) and no apt-get"
  say "installing: $missing"
  local aptlog policy saved rc
  aptlog=$(mktemp /tmp/smtpdiag-lab-apt.XXXXXX)
  policy=/usr/sbin/policy-rc.d
  saved=$policy.smtpdiag-lab-saved
  # A backup left by an interrupted run is the original: put it back first.
  [ -e "$saved" ] && mv -f "$saved" "$policy"
  [ -e "$policy" ] && cp -p "$policy" "$saved"
  printf '#!/bin/sh\n# smtpdiag lab: never let apt start daemons\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  (
    export DEBIAN_FRONTEND=noninteractive
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    apt-get update ||
      echo "lab: apt-get update failed; trying the install with the lists present" >&2
    # shellcheck disable=SC2086
    apt-get install -y --no-install-recommends \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold $missing
  ) >"$aptlog" 2>&1
  rc=$?
  if [ -e "$saved" ]; then mv -f "$saved" "$policy"; else rm -f "$policy"; fi
  if [ $rc -ne 0 ]; then
    say "package installation failed (apt-get exit $rc)"
    log_tail "$aptlog" 40
    rm -f "$aptlog"
    exit 1
  fi
  rm -f "$aptlog"
  missing=$(missing_packages | tr '\n' ' ')
  [ -z "$missing" ] || die "still missing after apt-get install: $missing"
}

# -------------------------------------------------------------- processes --

# PIDs of every process that belongs to this lab: our daemons whose command
# line names the state directory, every Postfix process started for either
# instance (MAIL_CONFIG in its environment, or in a recorded mount namespace)
# and every exim process (in exim's recorded mount namespace).
lab_pids() {
  local d pid comm cmd env ns recorded_ns="" exim_ns="" args=()
  [ -r "$STATE/run/postfix.mntns" ] && read -r recorded_ns <"$STATE/run/postfix.mntns"
  [ -r "$STATE/run/exim.mntns" ] && read -r exim_ns <"$STATE/run/exim.mntns"
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    [ "$pid" = "$$" ] && continue
    [ "$pid" = "${BASHPID:-$$}" ] && continue
    read -r comm 2>/dev/null <"$d/comm" || continue
    # nsd renames itself "nsd: main", "nsd: xfrd"...; postgrey (perl)
    # becomes "postgrey --inet".
    case $comm in
      nsd|nsd:*|unbound|rbldnsd|postgrey*|perl)
        mapfile -d '' args 2>/dev/null <"$d/cmdline" || continue
        cmd="${args[*]}"
        case $comm in perl) case $cmd in *postgrey*) ;; *) continue ;; esac ;; esac
        case $cmd in *"$STATE/"*) echo "$pid" ;; esac
        ;;
      master|smtpd|pickup|qmgr|tlsmgr|trivial-rewrite|cleanup|bounce|verify|flush|proxymap|anvil|scache|postlogd|error|discard|postfix-script|postfix|smtp|virtual|showq)
        ns=$(readlink "$d/ns/mnt" 2>/dev/null) || ns=""
        if [ -n "$recorded_ns" ] && [ "$ns" = "$recorded_ns" ]; then
          echo "$pid"
          continue
        fi
        mapfile -d '' args 2>/dev/null <"$d/environ" || continue
        for env in "${args[@]}"; do
          case $env in
            "MAIL_CONFIG=$STATE/postfix/etc"|"MAIL_CONFIG=$PFCLIENT/etc") echo "$pid"; break ;;
          esac
        done
        ;;
      nginx)
        # Master and workers run the binary unpacked into $STATE.
        case $(readlink "$d/exe" 2>/dev/null) in "$STATE/"*) echo "$pid" ;; esac
        ;;
      exim4)
        ns=$(readlink "$d/ns/mnt" 2>/dev/null) || ns=""
        if [ -n "$exim_ns" ] && [ "$ns" = "$exim_ns" ]; then
          echo "$pid"
          continue
        fi
        mapfile -d '' args 2>/dev/null <"$d/cmdline" || continue
        case "${args[0]:-}" in "$STATE/"*) echo "$pid" ;; esac
        ;;
    esac
  done
}

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# Stop everything of this lab; leave nothing running. Always succeeds unless
# a process survives SIGKILL.
stop_all() {
  local f pid i left seen=""
  left=$(lab_pids)
  seen=$left
  # SIGTERM to each daemon's main process (for Postfix's master this is what
  # "postfix stop" does, without its 1 s polling); master then ends its children.
  for f in "$STATE"/run/*.pid "$STATE/postfix/spool/pid/master.pid" "$PFCLIENT/spool/pid/master.pid"; do
    [ -f "$f" ] || continue
    pid=$(tr -dc '0-9' 2>/dev/null <"$f" | head -c 10)
    # Only signal a pid from a pidfile if it still looks like ours.
    if pid_alive "$pid" && grep -qx "$pid" <<<"$left"; then
      kill -TERM "$pid" 2>/dev/null || true
    fi
  done
  for i in $(seq 1 50); do
    left=$(lab_pids)
    [ -z "$left" ] && break
    seen+=$'\n'$left
    [ "$i" -eq 20 ] && kill -TERM $left 2>/dev/null
    sleep 0.1
  done
  if [ -n "$left" ]; then
    kill -KILL $left 2>/dev/null || true
    sleep 0.3
    left=$(lab_pids)
  fi
  rm -f "$STATE"/run/*.pid "$STATE"/run/*.mntns 2>/dev/null
  if [ -n "$left" ]; then
    say "processes survived SIGKILL: $left"
    return 1
  fi
  # Give init a moment to reap them, so that no <defunct> entry is left in ps.
  for i in $(seq 1 30); do
    left=""
    for pid in $seen; do [ -e "/proc/$pid" ] && left+=" $pid"; done
    [ -z "$left" ] && break
    sleep 0.1
  done
  return 0
}

# ------------------------------------------------------------------ checks --

# dig through a given server; prints the answer section (+short).
q() { # server port name type
  dig @"$1" -p "$2" +time=1 +tries=1 +short "$3" "$4" 2>/dev/null
}

check_nsd()     { [ "$(q $NSD_ADDR $NSD_PORT mx.healthy.test A)" = "127.0.0.10" ]; }
check_rbldnsd() { q $NSD_ADDR $RBL_PORT 2.0.0.127.zen.spamhaus.org A | grep -qx 127.0.0.4; }
check_unbound() {
  [ "$(q $RESOLVER 53 mx.healthy.test A)" = "127.0.0.10" ] &&
    q $RESOLVER 53 2.0.0.127.zen.spamhaus.org A | grep -qx 127.0.0.2
}
check_postgrey() { timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$GREY_PORT" 2>/dev/null; }
pidfile_alive() { pid_alive "$(tr -dc '0-9' 2>/dev/null <"$1")"; }
check_pfclient() { pidfile_alive "$PFCLIENT/spool/pid/master.pid"; }
# unbound validates the signed lab zones: the AD bit on a secure answer.
check_dnssec() {
  dig @"$RESOLVER" +time=1 +tries=1 +dnssec +noall +comments mx.valid.dane.test A 2>/dev/null |
    grep -q 'flags:[^;]* ad[ ;]'
}
# nginx serves the MTA-STS policy of sts-enforce.test with a lab-CA certificate.
check_nginx() {
  curl -sf --max-time 2 --cacert "$STATE/tls/ca.pem" \
    --resolve "mta-sts.sts-enforce.test:443:$STS_ADDR" \
    https://mta-sts.sts-enforce.test/.well-known/mta-sts.txt 2>/dev/null | grep -q '^mode: enforce'
}
check_exim() { pidfile_alive "$STATE/run/exim.pid"; }

# First line of an SMTP greeting, or nothing. Sends QUIT, never anything else.
smtp_greeting() { # address
  timeout 6 bash -c '
    exec 3<>"/dev/tcp/$1/25" || exit 1
    IFS= read -r -t 5 line <&3 || exit 2
    printf "QUIT\r\n" >&3 2>/dev/null
    printf "%s\n" "${line%$'"'"'\r'"'"'}"' _ "$1" 2>/dev/null
}

port_listening() { # address port proto(t|u)
  local a=$1
  case $a in *:*) a="[$a]" ;; esac
  ss -Hln"$3" "src $a:$2" 2>/dev/null | grep -q .
}

# Checks one listener; prints a short description; returns 0 when good.
check_listener() { # address expected-code
  local addr=$1 want=$2 line
  if [ "$want" = "-" ]; then
    if port_listening "$addr" 25 t; then echo "listening (greeting stalls by design)"; return 0; fi
    echo "not listening"; return 1
  fi
  line=$(smtp_greeting "$addr")
  if [ "${line:0:3}" = "$want" ]; then echo "$line"; return 0; fi
  echo "expected $want greeting, got '${line:-nothing}'"
  return 1
}

check_postfix() { # quiet (print nothing) | report (print failures) | verbose (print all)
  local mode=${1:-quiet} entry addr want out bad=0
  local report=""
  for entry in "${SMTP_LISTENERS[@]}"; do
    addr=${entry% *}
    want=${entry#* }
    if out=$(check_listener "$addr" "$want"); then
      [ "$mode" = verbose ] && report+=$(printf '  %-12s %s' "$addr" "$out")$'\n'
    else
      bad=$((bad + 1))
      [ "$mode" = quiet ] && return 1
      report+=$(printf '  %-12s %s' "$addr" "$out")$'\n'
    fi
  done
  if [ "$bad" -eq "${#SMTP_LISTENERS[@]}" ]; then
    echo "  no listener answers (Postfix is not running)"
  else
    printf '%s' "$report"
  fi
  [ "$bad" -eq 0 ]
}

# Fingerprint of the lab's definition (this file and conf/); recorded at start.
conf_fingerprint() {
  find "$LAB_CONF" "$LAB_HOME/lib.sh" -type f -print0 | sort -z | xargs -0 cat | sha256sum | cut -c1-16
}

# 0 when the running lab was started from the current tests/lab definition.
conf_current() {
  local recorded
  read -r recorded 2>/dev/null <"$STATE/run/fingerprint" || return 1
  [ "$recorded" = "$(conf_fingerprint)" ]
}

# Quiet: 0 when every server answers; stops at the first that does not.
lab_up() {
  check_unbound && check_nsd && check_rbldnsd && check_postgrey && check_all_smtp &&
    check_pfclient && check_exim && check_dnssec && check_nginx
}

# Prints one line per server; returns 0 when every server answers.
lab_status() { # [verbose]
  local rc=0 detail
  if check_unbound; then echo "unbound   up    $RESOLVER:53 (mx.healthy.test A 127.0.0.10, zen answers)"
  else echo "unbound   DOWN  $RESOLVER:53"; rc=1; fi
  if check_nsd; then echo "nsd       up    $NSD_ADDR:$NSD_PORT (test., 127.in-addr.arpa., ::1 reverse)"
  else echo "nsd       DOWN  $NSD_ADDR:$NSD_PORT"; rc=1; fi
  if check_rbldnsd; then echo "rbldnsd   up    127.0.0.1:$RBL_PORT (9 blocklist zones)"
  else echo "rbldnsd   DOWN  127.0.0.1:$RBL_PORT"; rc=1; fi
  if check_postgrey; then echo "postgrey  up    127.0.0.1:$GREY_PORT"
  else echo "postgrey  DOWN  127.0.0.1:$GREY_PORT"; rc=1; fi
  if check_pfclient; then echo "pfclient  up    Postfix sending instance (no listener; log $STATE/log/postfix-client.log)"
  else echo "pfclient  DOWN  Postfix sending instance ($PFCLIENT)"; rc=1; fi
  if check_exim; then echo "exim      up    queue runner every 2 s (no listener; log $STATE/log/exim/mainlog)"
  else echo "exim      DOWN  queue runner ($STATE/exim)"; rc=1; fi
  if check_dnssec; then echo "dnssec    up    unbound validates dane.test, bogus.test, sigexpired.test (mx.valid.dane.test A: AD)"
  else echo "dnssec    DOWN  no AD bit on mx.valid.dane.test A (trust anchors $STATE/unbound/trust-anchors)"; rc=1; fi
  if check_nginx; then echo "nginx     up    $STS_ADDR:443 (MTA-STS policies, lab CA)"
  else echo "nginx     DOWN  $STS_ADDR:443 (no policy for sts-enforce.test)"; rc=1; fi
  if [ $rc -eq 0 ] && ! conf_current; then
    echo "config    OUTDATED  tests/lab changed since the lab started; run tests/lab/start"
    rc=1
  fi
  if [ "${1:-}" = verbose ]; then
    if detail=$(check_postfix verbose); then
      echo "postfix   up    ${#SMTP_LISTENERS[@]} smtpd listeners on port 25"
    else
      echo "postfix   DOWN  some smtpd listeners on port 25 do not answer"; rc=1
    fi
    printf '%s\n' "$detail"
  else
    if detail=$(check_postfix report); then
      echo "postfix   up    ${#SMTP_LISTENERS[@]} smtpd listeners on port 25 (127.0.0.10-22, 127.0.1.1-10, [::1])"
    else
      echo "postfix   DOWN  some smtpd listeners on port 25 do not answer:"; rc=1
      printf '%s\n' "$detail"
    fi
  fi
  return $rc
}

# ------------------------------------------------------------ preflight --

# The line of `ss -Hln[tu]p` output ($1) of a socket that holds addr ($2)
# port ($3): the same address, or a wildcard one.
port_owner() {
  awk -v addr="$2" -v port="$3" '
    {
      n = split($4, part, ":"); p = part[n]
      host = substr($4, 1, length($4) - length(p) - 1); sub(/%.*/, "", host)
      if (p == port && (host == addr || host == "[" addr "]" || host == "0.0.0.0" || host == "*" || host == "[::]")) { print; exit }
    }' <<<"$1"
}

# Says which of the lab's ports is taken (by a process that is not ours).
check_ports_free() {
  local busy="" entry addr port proto line tcp udp
  local specs=("$RESOLVER 53 u" "$RESOLVER 53 t" "$NSD_ADDR $NSD_PORT u" "$NSD_ADDR $NSD_PORT t"
               "127.0.0.1 $RBL_PORT u" "127.0.0.1 $GREY_PORT t" "$STS_ADDR 443 t")
  for entry in "${SMTP_LISTENERS[@]}"; do specs+=("${entry% *} 25 t"); done
  tcp=$(ss -Hlntp 2>/dev/null)
  udp=$(ss -Hlnup 2>/dev/null)
  for entry in "${specs[@]}"; do
    read -r addr port proto <<<"$entry"
    if [ "$proto" = t ]; then line=$(port_owner "$tcp" "$addr" "$port")
    else line=$(port_owner "$udp" "$addr" "$port"); fi
    [ -n "$line" ] && busy+="  $addr port $port/$([ "$proto" = t ] && echo tcp || echo udp) is taken: $line"$'\n'
  done
  if [ -n "$busy" ]; then
    say "ports needed by the lab are in use:"
    printf '%s' "$busy" >&2
    return 1
  fi
  return 0
}

# -------------------------------------------------------------- configure --

subst() { # template destination
  sed -e "s|@STATE@|$STATE|g" "$1" >"$2"
}

# dNNNN.batch.test MX 10 mxNN.batch.test, NN = ((n-1) mod 10)+1, for n = 1 to
# $SMTPDIAG_LAB_BATCH_DOMAINS (1000 by default; the benchmarks ask for 100000), and the
# same for the first 1000 under slow.test (the benchmarks' delaying proxy).
gen_batch_zone() {
  local count=${SMTPDIAG_LAB_BATCH_DOMAINS:-1000}
  case $count in ''|*[!0-9]*) die "SMTPDIAG_LAB_BATCH_DOMAINS=$count is not a number" ;; esac
  awk -v count="$count" 'BEGIN {
    for (n = 1; n <= count; n++) printf "d%04d.batch MX 10 mx%02d.batch.test.\n", n, (n - 1) % 10 + 1
    for (n = 1; n <= 1000; n++) printf "d%04d.slow MX 10 mx%02d.slow.test.\n", n, (n - 1) % 10 + 1
  }'
}

gen_tls() {
  local t=$STATE/tls
  mkdir -p "$t/ca/newcerts"
  : >"$t/ca/index.txt"
  echo 1000 >"$t/ca/serial"
  cat >"$t/ca/ca.cnf" <<EOF
[ ca ]
default_ca = lab
[ lab ]
dir = $t/ca
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
serial = \$dir/serial
certificate = $t/ca.pem
private_key = $t/ca.key
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
email_in_dn = no
[ anything ]
commonName = supplied
[ healthy ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:mx.healthy.test, DNS:mx.v6only.test, DNS:implicit.test
[ expired ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:mx.expired.test
[ dane ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $(dane_names)
[ mtasts ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $(sts_names)
[ stsbadcert ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:mta-sts.elsewhere.test
[ stsexpired ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:mta-sts.sts-expired.test
EOF
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  {
    openssl req -x509 "${ec[@]}" -keyout "$t/ca.key" -out "$t/ca.pem" -days 3650 \
      -subj "/O=smtpdiag lab/CN=smtpdiag lab CA" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" &&
    openssl req -new "${ec[@]}" -keyout "$t/healthy.key" -out "$t/healthy.csr" \
      -subj "/CN=mx.healthy.test" &&
    # Valid from yesterday: a client clock a little behind still accepts it.
    openssl ca -batch -notext -config "$t/ca/ca.cnf" -extensions healthy \
      -startdate "$(date -u -d '1 day ago' +%Y%m%d%H%M%SZ)" \
      -enddate "$(date -u -d '+825 days' +%Y%m%d%H%M%SZ)" \
      -in "$t/healthy.csr" -out "$t/healthy.pem" &&
    openssl req -new "${ec[@]}" -keyout "$t/expired.key" -out "$t/expired.csr" \
      -subj "/CN=mx.expired.test" &&
    openssl ca -batch -notext -config "$t/ca/ca.cnf" -extensions expired \
      -startdate 20200101000000Z -enddate 20210101000000Z \
      -in "$t/expired.csr" -out "$t/expired.pem" &&
    # mx.selfsigned.test: a certificate that signed itself.
    openssl req -x509 "${ec[@]}" -keyout "$t/selfsigned.key" -out "$t/selfsigned.pem" \
      -days 825 -subj "/CN=mx.selfsigned.test" \
      -addext "subjectAltName=DNS:mx.selfsigned.test" &&
    # mx.badtls.test: a "certificate" that is not one, so that Postfix
    # advertises STARTTLS but cannot start TLS (454 4.7.0).
    printf 'this is not a certificate\n' >"$t/broken.pem" &&
    printf 'this is not a key\n' >"$t/broken.key" &&
    # The DANE listener (127.0.0.21): its chain file holds the lab CA too, as
    # DANE-TA (2 x x) needs the trust anchor in the chain the server presents.
    lab_cert dane "/CN=mx.valid.dane.test" dane &&
    cat "$t/dane.pem" "$t/ca.pem" >"$t/dane-chain.pem" &&
    # The key a rollover publishes the TLSA record of before it is used.
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$t/next.key" &&
    # The MTA-STS policy hosts, and one whose certificate names another host.
    lab_cert mta-sts "/CN=mta-sts.sts-enforce.test" mtasts &&
    lab_cert sts-badcert "/CN=mta-sts.elsewhere.test" stsbadcert &&
    lab_cert sts-expired "/CN=mta-sts.sts-expired.test" stsexpired 20200101000000Z 20210101000000Z
  } >"$STATE/log/openssl.log" 2>&1 || { say "creating the lab TLS material failed"; log_tail "$STATE/log/openssl.log"; return 1; }
  chmod 600 "$t"/*.key
}

# A key and a certificate from the lab CA, valid from yesterday for 825 days
# unless dates are given: $STATE/tls/NAME.key and NAME.pem.
lab_cert() { # name subject ca.cnf-extensions [startdate enddate]
  local t=$STATE/tls
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$t/$1.key" -out "$t/$1.csr" -subj "$2" &&
  openssl ca -batch -notext -config "$t/ca/ca.cnf" -extensions "$3" \
    -startdate "${4:-$(date -u -d '1 day ago' +%Y%m%d%H%M%SZ)}" \
    -enddate "${5:-$(date -u -d '+825 days' +%Y%m%d%H%M%SZ)}" \
    -in "$t/$1.csr" -out "$t/$1.pem"
}

# The MX names served by the DANE listener (127.0.0.21), all in its certificate:
# DANE-TA and MTA-STS check the name, DANE-EE does not.
DANE_MX_NAMES=(mx.valid.dane.test mx.mismatch.dane.test mx.ta.dane.test mx.rollover.dane.test
               mx.pkix.dane.test mx.malformed.dane.test mx.nodane.dane.test mx.bogus.test
               mx.sigexpired.test mx.tlsa-unsigned.test mx.sts-missing.test mx.slow.dane.test)
# The MTA-STS policy domains whose host has a good certificate (docs/lab.md).
STS_DOMAINS=(sts-enforce.test sts-wildcard.test sts-missing.test sts-testing.test
             sts-malformed.test sts-nopolicy.test slow.dane.test)
dane_names() { local n; for n in "${DANE_MX_NAMES[@]}"; do printf 'DNS:%s,' "$n"; done | sed 's/,$//'; }
sts_names() { local d; for d in "${STS_DOMAINS[@]}"; do printf 'DNS:mta-sts.%s,' "$d"; done | sed 's/,$//'; }

# SHA-256 of a key's SubjectPublicKeyInfo (TLSA selector 1, matching type 1).
spki_sha256() { openssl pkey -in "$1" -pubout -outform DER | openssl dgst -sha256 -r | cut -c1-64; }
# SHA-256 of a whole certificate (TLSA selector 0, matching type 1).
cert_sha256() { openssl x509 -in "$1" -outform DER | openssl dgst -sha256 -r | cut -c1-64; }

# ldnsutils, unpacked from its .deb: ldns TOOL ARGS...
ldns() {
  LD_LIBRARY_PATH=$LDNS_ROOT/usr/lib/$(uname -m)-linux-gnu "$LDNS_ROOT/usr/bin/$1" "${@:2}"
}

# A zone file with the @TLSA_...@ placeholders filled from this start's keys
# and certificates (set by gen_dnssec).
tlsa_subst() { # template destination
  sed -e "s|@TLSA_DANE@|$TLSA_DANE|g" -e "s|@TLSA_HEALTHY@|$TLSA_HEALTHY|g" \
      -e "s|@TLSA_NEXT@|$TLSA_NEXT|g" -e "s|@TLSA_CA@|$TLSA_CA|g" "$1" >"$2"
}

# The DNSSEC-signed zones (docs/lab.md, "DNSSEC and DANE"), each signed with a
# key made at this start; those keys are unbound's trust anchors (the parent,
# test., is not signed: each zone is an island of security).
#   dane.test        signed, valid for 30 days
#   bogus.test       signed, then its TLSA record is changed: the RRSIG no longer
#                    matches, unbound answers SERVFAIL (dig +cd shows the data)
#   sigexpired.test  signed with signatures that expired in 2020: all of it bogus
gen_dnssec() {
  local t=$STATE/tls k=$STATE/dnssec zone key from until anchors=$STATE/unbound/trust-anchors
  mkdir -p "$k" || return 1
  : >"$anchors"
  {
    TLSA_DANE=$(spki_sha256 "$t/dane.key") &&
    TLSA_HEALTHY=$(spki_sha256 "$t/healthy.key") &&
    TLSA_NEXT=$(spki_sha256 "$t/next.key") &&
    TLSA_CA=$(cert_sha256 "$t/ca.pem")
  } 2>>"$STATE/log/dnssec.log" || { say "cannot compute the TLSA data"; log_tail "$STATE/log/dnssec.log"; return 1; }
  for zone in dane.test bogus.test sigexpired.test; do
    tlsa_subst "$LAB_CONF/zones/$zone.zone" "$k/$zone.zone" || return 1
    if [ "$zone" = sigexpired.test ]; then
      from=20200101000000 until=20200201000000
    else
      from=$(date -u -d '1 day ago' +%Y%m%d%H%M%S) until=$(date -u -d '+30 days' +%Y%m%d%H%M%S)
    fi
    {
      key=$(cd "$k" && ldns ldns-keygen -a ECDSAP256SHA256 -k -r /dev/urandom "$zone") &&
      ldns ldns-signzone -i "$from" -e "$until" -f "$STATE/nsd/$zone.zone" "$k/$zone.zone" "$k/$key" &&
      cat "$k/$key.key" >>"$anchors"
    } >>"$STATE/log/dnssec.log" 2>&1 || { say "signing $zone failed"; log_tail "$STATE/log/dnssec.log"; return 1; }
  done
  # bogus.test: the TLSA record changed after signing (a new key published
  # without re-signing the zone).
  sed -i -e "/^_25\._tcp\.mx\.bogus\.test\.[[:space:]].*TLSA/s/$TLSA_DANE/$TLSA_HEALTHY/" \
    "$STATE/nsd/bogus.test.zone"
  grep -q "TLSA.*$TLSA_HEALTHY" "$STATE/nsd/bogus.test.zone" ||
    { say "could not alter the TLSA record of the signed bogus.test zone"; return 1; }
}

configure() {
  mkdir -p "$STATE"/{run,log,nsd,unbound,rbldnsd,postgrey/db,postfix/etc,postfix/spool,postfix/data,tls} || return 1
  : >"$MARKER"
  chmod 755 "$STATE" "$STATE/rbldnsd" "$STATE/postgrey"
  chown postgrey:postgrey "$STATE/postgrey/db"
  chown postfix:postfix "$STATE/postfix/data"

  # TLS (first: the DNS zones publish TLSA records of its keys)
  gen_tls || return 1

  # DNS
  unpack_debs "$LDNS_ROOT" "${LDNS_DEBS[@]}" || return 1
  check_libs "$LDNS_ROOT/usr/bin/ldns-signzone" "$LDNS_ROOT/usr/lib/$(uname -m)-linux-gnu" || return 1
  subst "$LAB_CONF/unbound.conf" "$STATE/unbound.conf"
  subst "$LAB_CONF/nsd.conf" "$STATE/nsd.conf"
  gen_dnssec || return 1
  tlsa_subst "$LAB_CONF/zones/test.zone" "$STATE/nsd/test.zone" &&
    gen_batch_zone >>"$STATE/nsd/test.zone" || return 1
  cp "$LAB_CONF/zones/127.in-addr.arpa.zone" "$LAB_CONF/zones/ip6-loopback.zone" "$STATE/nsd/"
  cp "$LAB_CONF"/rbldnsd/* "$STATE/rbldnsd/"
  chmod 644 "$STATE"/rbldnsd/*
  printf 'nameserver %s\noptions timeout:2 attempts:2\n' "$RESOLVER" >"$STATE/resolv.conf"
  printf '127.0.0.1\tlocalhost\n' >"$STATE/hosts"

  # postgrey: no whitelists at all (the packaged one whitelists postmaster@).
  : >"$STATE/postgrey/whitelist_clients"
  : >"$STATE/postgrey/whitelist_recipients"

  # Postfix
  local etc=$STATE/postfix/etc
  subst "$LAB_CONF/postfix/main.cf" "$etc/main.cf"
  sed -e "s|@STATE@|$STATE|g" \
      -e "s|@BADTLS_OPTIONS@|-o smtpd_tls_cert_file=$STATE/tls/broken.pem -o smtpd_tls_key_file=$STATE/tls/broken.key|" \
      "$LAB_CONF/postfix/master.cf" >"$etc/master.cf"
  cp "$LAB_CONF/postfix/busy.cidr" "$LAB_CONF/postfix/deny.cidr" \
     "$LAB_CONF/postfix/mydestination.regexp" "$LAB_CONF/postfix/noticket-openssl.cnf" \
     "$etc/"
  # Postfix waits until a config file is at least a second or two old
  # ("let it settle") before reading it: backdate them to start at once.
  touch -d '1 minute ago' "$etc"/*

  configure_pfclient || return 1
  configure_exim || return 1
  configure_nginx || return 1
}

# nginx, unpacked from its .deb: its configuration and one directory per policy
# host, www/mta-sts.<domain>/.well-known/mta-sts.txt (no file: 404).
configure_nginx() {
  local d n=$STATE/nginx
  unpack_debs "$n/root" "${NGINX_DEBS[@]}" || return 1
  check_libs "$NGINX" || return 1
  mkdir -p "$n/tmp" "$n/www" || return 1
  subst "$LAB_CONF/nginx/nginx.conf" "$n/nginx.conf"
  for d in "$LAB_CONF"/nginx/policies/*.txt; do
    d=$(basename "$d" .txt)
    mkdir -p "$n/www/mta-sts.$d/.well-known" &&
    cp "$LAB_CONF/nginx/policies/$d.txt" "$n/www/mta-sts.$d/.well-known/mta-sts.txt" || return 1
  done
  chmod -R a+rX "$n/www"
}

# Unpack cached .debs (fetch_debs) into a directory: unpack_debs DIR PACKAGE...
unpack_debs() {
  local dir=$1 p deb
  shift
  mkdir -p "$dir" || return 1
  for p in "$@"; do
    deb=$(cached_deb "$p")
    [ -n "$deb" ] || { say "no $p .deb in $DEB_CACHE"; return 1; }
    dpkg -x "$deb" "$dir" || { say "cannot unpack $deb"; return 1; }
  done
}

# Fail loudly when an unpacked binary needs a library this system lacks.
check_libs() { # binary [library directory of the unpacked packages]
  local missing
  missing=$(LD_LIBRARY_PATH=${2:-} ldd "$1" 2>&1 | awk '/not found/ {print $1}' | tr '\n' ' ')
  [ -z "$missing" ] && return 0
  say "$1 needs libraries this system lacks: ${missing% } (apt-get install the packages that have them)"
  return 1
}

# The Postfix client: its own config and queue; bounces to a maildir.
configure_pfclient() {
  local etc=$PFCLIENT/etc
  mkdir -p "$etc" "$STATE/mail/postfix"/{new,cur,tmp} || return 1
  subst "$LAB_CONF/postfix-client/main.cf" "$etc/main.cf"
  subst "$LAB_CONF/postfix-client/master.cf" "$etc/master.cf"
  # virtual(8) delivers as nobody (virtual_uid_maps).
  chown -R nobody:nogroup "$STATE/mail/postfix"
  touch -d '1 minute ago' "$etc"/*
}

# The newest cached .deb of a package, or nothing.
cached_deb() { compgen -G "$DEB_CACHE/${1}_*.deb" | sort -V | tail -n 1; }

# Make sure $DEB_CACHE holds the .debs the lab unpacks (exim, nginx, ldnsutils):
# kept from an earlier start (CI runs offline on the same machine), else fetched
# with apt-get download. Fails loudly when one is missing and cannot be fetched.
fetch_debs() {
  local p missing=() log=$DEB_CACHE/download.log
  for p in "${UNPACKED_DEBS[@]}"; do [ -n "$(cached_deb "$p")" ] || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "no apt-get to download ${missing[*]}; put their .deb files in $DEB_CACHE"
  mkdir -p "$DEB_CACHE" || die "cannot create $DEB_CACHE"
  say "downloading ${missing[*]} into $DEB_CACHE"
  # (APT::Sandbox::User=root: apt's _apt user cannot write into $DEB_CACHE.)
  if ! ( cd "$DEB_CACHE" && apt-get -o APT::Sandbox::User=root download "${missing[@]}" ) >"$log" 2>&1; then
    # The package lists may be missing or out of date.
    ( apt-get update && cd "$DEB_CACHE" && apt-get -o APT::Sandbox::User=root download "${missing[@]}" ) >>"$log" 2>&1 || {
      say "cannot download ${missing[*]} (no network? copy their .deb files into $DEB_CACHE)"
      log_tail "$log"
      exit 1
    }
  fi
  for p in "${UNPACKED_DEBS[@]}"; do
    [ -n "$(cached_deb "$p")" ] || die "apt-get download left no $p .deb in $DEB_CACHE"
  done
}

# Exim: the .debs unpacked into $STATE/exim/root, and the /etc overlay of its
# namespace (see start_exim): its configuration, the lab resolver and hosts, and
# a passwd/group that name Debian-exim.
configure_exim() {
  local e=$STATE/exim
  mkdir -p "$e/root" "$e/spool" "$e/etc/exim4" "$STATE/mail/exim" "$STATE/log/exim" || return 1
  unpack_debs "$e/root" "${EXIM_DEBS[@]}" || return 1
  subst "$LAB_CONF/exim/exim.conf" "$e/etc/exim4/exim4.conf"
  cp "$STATE/resolv.conf" "$STATE/hosts" "$e/etc/" || return 1
  { cat /etc/passwd
    printf 'Debian-exim:x:%s:%s:smtpdiag lab exim:/nonexistent:/usr/sbin/nologin\n' "$(id -u mail)" "$(id -g mail)"
  } >"$e/etc/passwd" &&
  { cat /etc/group; printf 'Debian-exim:x:%s:\n' "$(id -g mail)"; } >"$e/etc/group" || return 1
  chown mail:mail "$e/spool" "$STATE/mail/exim" "$STATE/log/exim"
}

# ------------------------------------------------------------ daemons --

# Wait until a check passes, at most $2 seconds.
wait_for() { # check-function seconds
  local fn=$1 deadline=$(( $(date +%s) + $2 ))
  while :; do
    "$fn" && return 0
    [ "$(date +%s)" -ge "$deadline" ] && return 1
    sleep 0.1
  done
}

start_nsd() {
  local z out
  for z in "test. test.zone" "127.in-addr.arpa. 127.in-addr.arpa.zone" \
           "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa. ip6-loopback.zone"; do
    out=$(nsd-checkzone "${z% *}" "$STATE/nsd/${z#* }" 2>&1) || { say "nsd zone error: $out"; return 1; }
  done
  out=$(nsd-checkconf "$STATE/nsd.conf" 2>&1) || { say "nsd.conf error: $out"; return 1; }
  nsd -c "$STATE/nsd.conf" >>"$STATE/log/nsd.log" 2>&1 9>&- || { say "nsd failed to start"; log_tail "$STATE/log/nsd.log"; return 1; }
}

start_rbldnsd() {
  local args=() f
  for f in "$STATE"/rbldnsd/*; do args+=("$(basename "$f"):combined:$f"); done
  rbldnsd -u rbldns -b 127.0.0.1/$RBL_PORT -p "$STATE/run/rbldnsd.pid" -w "$STATE/rbldnsd" \
    -t 300 -c 0 -v "${args[@]}" >"$STATE/log/rbldnsd.log" 2>&1 9>&- ||
    { say "rbldnsd failed to start"; log_tail "$STATE/log/rbldnsd.log"; return 1; }
}

start_unbound() {
  local out
  out=$(unbound-checkconf "$STATE/unbound.conf" 2>&1) || { say "unbound.conf error: $out"; return 1; }
  unbound -c "$STATE/unbound.conf" >>"$STATE/log/unbound.log" 2>&1 9>&- ||
    { say "unbound failed to start"; log_tail "$STATE/log/unbound.log"; return 1; }
}

start_postgrey() {
  ( exec setsid /usr/sbin/postgrey --inet=127.0.0.1:$GREY_PORT --dbdir="$STATE/postgrey/db" \
      --delay=3600 --auto-whitelist-clients=0 --hostname=lab.test \
      --whitelist-clients="$STATE/postgrey/whitelist_clients" \
      --whitelist-recipients="$STATE/postgrey/whitelist_recipients" \
      --user=postgrey --group=postgrey \
      </dev/null >>"$STATE/log/postgrey.log" 2>&1 9>&- ) &
  echo $! >"$STATE/run/postgrey.pid"
}

# Create the queue directories as /etc/postfix/postfix-files says
# ("postfix post-install create-missing" does the same but takes ~2 s),
# then skip postfix-script's integrity checks (quick-start).
make_postfix_queue() { # queue_directory data_directory
  local q=$1 d
  install -d -o root -g root -m 755 "$q" "$q/pid" &&
  install -d -o postfix -g root -m 700 "$2" &&
  for d in active bounce corrupt defer deferred flush hold incoming private saved trace; do
    install -d -o postfix -g root -m 700 "$q/$d" || return 1
  done &&
  install -d -o postfix -g postdrop -m 730 "$q/maildrop" &&
  install -d -o postfix -g postdrop -m 710 "$q/public" &&
  touch "$q/quick-start"
}

start_postfix() {
  local etc=$STATE/postfix/etc out pid
  out=$(postconf -c "$etc" -n 2>&1 >/dev/null)
  [ -z "$out" ] || { say "postfix main.cf problem: $out"; return 1; }
  # Private mount namespace: Postfix sees the lab resolver in /etc/resolv.conf;
  # the real /etc/resolv.conf is untouched.
  make_postfix_queue "$STATE/postfix/spool" "$STATE/postfix/data" ||
    { say "cannot create the Postfix queue directories in $STATE/postfix/spool"; return 1; }
  : >"$STATE/log/postfix-start.log"
  if ! unshare --mount --propagation private -- /bin/sh -c '
        mount --bind "$1/resolv.conf" /etc/resolv.conf &&
        mount --bind "$1/hosts" /etc/hosts &&
        exec /usr/sbin/postfix -c "$1/postfix/etc" start' lab "$STATE" >>"$STATE/log/postfix-start.log" 2>&1 9>&-; then
    say "postfix failed to start"
    log_tail "$STATE/log/postfix-start.log"
    log_tail "$STATE/log/postfix.log"
    return 1
  fi
  pid=$(tr -dc '0-9' 2>/dev/null <"$STATE/postfix/spool/pid/master.pid")
  pid_alive "$pid" || { say "postfix master is not running"; log_tail "$STATE/log/postfix.log"; return 1; }
  readlink "/proc/$pid/ns/mnt" >"$STATE/run/postfix.mntns"
}

# The Postfix client runs in the lab Postfix's mount namespace (lab resolver).
start_pfclient() {
  local etc=$PFCLIENT/etc out pid
  out=$(postconf -c "$etc" -n 2>&1 >/dev/null)
  [ -z "$out" ] || { say "Postfix client main.cf problem: $out"; return 1; }
  make_postfix_queue "$PFCLIENT/spool" "$PFCLIENT/data" ||
    { say "cannot create the Postfix client queue directories in $PFCLIENT/spool"; return 1; }
  pid=$(tr -dc '0-9' 2>/dev/null <"$STATE/postfix/spool/pid/master.pid")
  pid_alive "$pid" || { say "the lab Postfix is not running: no namespace to start the client in"; return 1; }
  : >"$STATE/log/postfix-client-start.log"
  if ! nsenter --mount="/proc/$pid/ns/mnt" -- /usr/sbin/postfix -c "$etc" start \
         >>"$STATE/log/postfix-client-start.log" 2>&1 9>&-; then
    say "the Postfix client did not start"
    log_tail "$STATE/log/postfix-client-start.log"
    log_tail "$STATE/log/postfix-client.log"
    return 1
  fi
  check_pfclient || { say "the Postfix client master is not running"; log_tail "$STATE/log/postfix-client.log"; return 1; }
}

# Exim runs in a private mount namespace whose /etc is a read-only overlay of
# $STATE/exim/etc on the real /etc: there /etc/exim4/exim4.conf is the lab's
# (the binary's compiled-in path: no -C, which would cost exim its privilege
# when it re-executes itself), /etc/resolv.conf names the lab resolver, and
# /etc/passwd has Debian-exim, the user the binary looks up before it reads any
# configuration (the unpacked package created no such account, and the lab
# adds none to the system). The real /etc is untouched. No listener: a forced
# queue run every 2 s (-qf: retry times are not waited for; the retry rule's
# 10 s cutoff still returns a message that keeps failing).
start_exim() {
  local pid
  : >"$STATE/log/exim-start.log"
  if ! unshare --mount --propagation private -- /bin/sh -c '
        mount -t overlay smtpdiag-lab-etc -o "lowerdir=$1/exim/etc:/etc" /etc &&
        "$2" -bV >/dev/null &&
        exec "$2" -qf2s -oP "$1/run/exim.pid"' lab "$STATE" "$EXIM" >>"$STATE/log/exim-start.log" 2>&1 9>&-; then
    say "exim did not start"
    log_tail "$STATE/log/exim-start.log"
    log_tail "$STATE/log/exim/paniclog"
    return 1
  fi
  wait_for check_exim 5 || { say "exim is not running"; log_tail "$STATE/log/exim-start.log"; log_tail "$STATE/log/exim/paniclog"; return 1; }
  pid=$(tr -dc '0-9' 2>/dev/null <"$STATE/run/exim.pid")
  readlink "/proc/$pid/ns/mnt" >"$STATE/run/exim.mntns"
}

# nginx: master and one worker, daemonised; its pid in $STATE/run/nginx.pid.
start_nginx() {
  local out args=(-p "$STATE/nginx/" -c "$STATE/nginx/nginx.conf" -e "$STATE/log/nginx-error.log")
  out=$("$NGINX" "${args[@]}" -t -q 2>&1) || { say "nginx.conf error: $out"; return 1; }
  "$NGINX" "${args[@]}" >>"$STATE/log/nginx-start.log" 2>&1 9>&- ||
    { say "nginx failed to start"; log_tail "$STATE/log/nginx-start.log"; log_tail "$STATE/log/nginx-error.log"; return 1; }
}

# Run the lab's exim in its namespace: exim_run ARGS...
exim_run() {
  local pid
  pid=$(tr -dc '0-9' 2>/dev/null <"$STATE/run/exim.pid")
  pid_alive "$pid" || { say "the lab exim is not running"; return 1; }
  nsenter --mount="/proc/$pid/ns/mnt" -- "$EXIM" "$@"
}

check_all_smtp() { check_postfix quiet >/dev/null; }

wait_ready() {
  local secs=${LAB_START_TIMEOUT:-30}
  wait_for check_nsd "$secs" || { say "nsd does not answer on $NSD_ADDR:$NSD_PORT"; log_tail "$STATE/log/nsd.log"; return 1; }
  wait_for check_rbldnsd "$secs" || { say "rbldnsd does not answer on 127.0.0.1:$RBL_PORT"; log_tail "$STATE/log/rbldnsd.log"; return 1; }
  wait_for check_unbound "$secs" || { say "unbound does not answer on $RESOLVER:53"; log_tail "$STATE/log/unbound.log"; return 1; }
  wait_for check_postgrey "$secs" || { say "postgrey does not answer on 127.0.0.1:$GREY_PORT"; log_tail "$STATE/log/postgrey.log"; return 1; }
  wait_for check_dnssec "$secs" || { say "unbound does not validate dane.test (no AD bit on mx.valid.dane.test A)"; log_tail "$STATE/log/unbound.log"; log_tail "$STATE/log/dnssec.log"; return 1; }
  wait_for check_nginx "$secs" || { say "nginx does not serve the MTA-STS policy of sts-enforce.test on $STS_ADDR:443"; log_tail "$STATE/log/nginx-error.log"; return 1; }
  if ! wait_for check_all_smtp "$secs"; then
    say "Postfix listeners do not answer as expected:"
    check_postfix report >&2
    log_tail "$STATE/log/postfix-start.log"
    log_tail "$STATE/log/postfix.log" 40
    return 1
  fi
}
