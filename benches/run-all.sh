#!/usr/bin/env bash
# Every figure of docs/performance.md's "At the network's limit" section, in one command:
# one private lab (tests/lab/isolated) with 100,000 generated batch domains, then the
# round-trip benchmarks behind the delaying proxy (benches/network.sh) and the batches at
# scale (benches/batch.sh). Environment variables of both scripts pass through.
#   benches/run-all.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin smtpdiag --example delay-proxy
# checkdmarc from PyPI, in a venv of its own (the lab's namespace has no network).
venv=${CHECKDMARC_VENV:-/tmp/smtpdiag-bench-venv}
if [ ! -x "$venv/bin/checkdmarc" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet checkdmarc
fi
export CHECKDMARC=$venv/bin/checkdmarc
export SMTPDIAG_LAB_BATCH_DOMAINS=${SMTPDIAG_LAB_BATCH_DOMAINS:-100000}
# nsd needs longer than the usual 30 s to load 100,000 names on a busy machine.
export LAB_START_TIMEOUT=${LAB_START_TIMEOUT:-300}
exec tests/lab/isolated bash -c 'benches/network.sh && echo && benches/batch.sh'
