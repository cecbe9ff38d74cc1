# shellcheck shell=bash
# Shared code of tests/lab/{start,stop,status,with-lab}. Sourced, not run.
#
# The lab: unbound (127.0.0.153:53), nsd (127.0.0.1:5301), rbldnsd
# (127.0.0.1:5302), postgrey (127.0.0.1:5303) and one Postfix instance with
# one smtpd listener per scenario on port 25 of 127.0.0.10-20, 127.0.1.1-10
# and [::1]. The sending side: a second Postfix instance (the client) and an
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

# Postfix listeners: address and expected first three characters of the
# greeting ("-" = only check that it listens: the stalled banner).
SMTP_LISTENERS=(
  "127.0.0.10 220" "::1 220" "127.0.0.11 421" "127.0.0.12 554"
  "127.0.0.13 220" "127.0.0.14 220" "127.0.0.15 220" "127.0.0.16 220"
  "127.0.0.17 220" "127.0.0.18 -" "127.0.0.19 220" "127.0.0.20 220"
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
# Debian's exim4 conflicts with postfix: its packages are only downloaded
# (kept here, for offline runs) and unpacked into $STATE/exim/root.
EXIM_DEBS=(exim4-daemon-light exim4-base exim4-config)
DEB_CACHE=${SMTPDIAG_LAB_DEB_CACHE:-/var/cache/smtpdiag-lab}

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
    check_pfclient && check_exim
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
      echo "postfix   up    ${#SMTP_LISTENERS[@]} smtpd listeners on port 25 (127.0.0.10-20, 127.0.1.1-10, [::1])"
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
               "127.0.0.1 $RBL_PORT u" "127.0.0.1 $GREY_PORT t")
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
    printf 'this is not a key\n' >"$t/broken.key"
  } >"$STATE/log/openssl.log" 2>&1 || { say "creating the lab TLS material failed"; log_tail "$STATE/log/openssl.log"; return 1; }
  chmod 600 "$t"/*.key
}

configure() {
  mkdir -p "$STATE"/{run,log,nsd,unbound,rbldnsd,postgrey/db,postfix/etc,postfix/spool,postfix/data,tls} || return 1
  : >"$MARKER"
  chmod 755 "$STATE" "$STATE/rbldnsd" "$STATE/postgrey"
  chown postgrey:postgrey "$STATE/postgrey/db"
  chown postfix:postfix "$STATE/postfix/data"

  # DNS
  subst "$LAB_CONF/unbound.conf" "$STATE/unbound.conf"
  subst "$LAB_CONF/nsd.conf" "$STATE/nsd.conf"
  { cat "$LAB_CONF/zones/test.zone"; gen_batch_zone; } >"$STATE/nsd/test.zone"
  cp "$LAB_CONF/zones/127.in-addr.arpa.zone" "$LAB_CONF/zones/ip6-loopback.zone" "$STATE/nsd/"
  cp "$LAB_CONF"/rbldnsd/* "$STATE/rbldnsd/"
  chmod 644 "$STATE"/rbldnsd/*
  printf 'nameserver %s\noptions timeout:2 attempts:2\n' "$RESOLVER" >"$STATE/resolv.conf"
  printf '127.0.0.1\tlocalhost\n' >"$STATE/hosts"

  # postgrey: no whitelists at all (the packaged one whitelists postmaster@).
  : >"$STATE/postgrey/whitelist_clients"
  : >"$STATE/postgrey/whitelist_recipients"

  # TLS
  gen_tls || return 1

  # Postfix
  local etc=$STATE/postfix/etc
  subst "$LAB_CONF/postfix/main.cf" "$etc/main.cf"
  sed -e "s|@STATE@|$STATE|g" \
      -e "s|@BADTLS_OPTIONS@|-o smtpd_tls_cert_file=$STATE/tls/broken.pem -o smtpd_tls_key_file=$STATE/tls/broken.key|" \
      "$LAB_CONF/postfix/master.cf" >"$etc/master.cf"
  cp "$LAB_CONF/postfix/busy.cidr" "$LAB_CONF/postfix/deny.cidr" \
     "$LAB_CONF/postfix/mydestination.regexp" "$etc/"
  # Postfix waits until a config file is at least a second or two old
  # ("let it settle") before reading it: backdate them to start at once.
  touch -d '1 minute ago' "$etc"/*

  configure_pfclient || return 1
  configure_exim || return 1
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

# Make sure $DEB_CACHE holds the exim .debs: kept from an earlier start (CI
# runs offline on the same machine), else fetched with apt-get download.
fetch_exim_debs() {
  local p missing=() log=$DEB_CACHE/download.log
  for p in "${EXIM_DEBS[@]}"; do [ -n "$(cached_deb "$p")" ] || missing+=("$p"); done
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
  for p in "${EXIM_DEBS[@]}"; do
    [ -n "$(cached_deb "$p")" ] || die "apt-get download left no $p .deb in $DEB_CACHE"
  done
}

# Exim: the .debs unpacked into $STATE/exim/root, and the /etc overlay of its
# namespace (see start_exim): its configuration, the lab resolver and hosts, and
# a passwd/group that name Debian-exim.
configure_exim() {
  local p deb e=$STATE/exim
  mkdir -p "$e/root" "$e/spool" "$e/etc/exim4" "$STATE/mail/exim" "$STATE/log/exim" || return 1
  for p in "${EXIM_DEBS[@]}"; do
    deb=$(cached_deb "$p")
    [ -n "$deb" ] || { say "no $p .deb in $DEB_CACHE"; return 1; }
    dpkg -x "$deb" "$e/root" || { say "cannot unpack $deb"; return 1; }
  done
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
  if ! wait_for check_all_smtp "$secs"; then
    say "Postfix listeners do not answer as expected:"
    check_postfix report >&2
    log_tail "$STATE/log/postfix-start.log"
    log_tail "$STATE/log/postfix.log" 40
    return 1
  fi
}
