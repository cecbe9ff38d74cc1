#!/usr/bin/env bash
# Peak memory (GNU time's maximum RSS) of smtpdiag under the worst faults of the fault suite:
# the scripted SMTP and DNS servers of tests/support, and huge or binary input files. Prints
# the Markdown table of docs/robustness.md. Needs GNU time (apt-get install time); no lab.
# Usage: benches/faults-rss.sh [--release]   (default: the debug build cargo test uses)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --release ]; then
  cargo build --release --quiet
  export SMTPDIAG_BIN=$PWD/target/release/smtpdiag
fi
cargo test --quiet --test faults -- --ignored --exact peak_memory_under_the_worst_faults \
  --nocapture 2>&1 | grep '^|'
