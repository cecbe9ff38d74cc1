#!/usr/bin/env bash
# Runs one fuzz target of smtpdiag for a given time, on the stable toolchain.
#
#   fuzz/run.sh TARGET [SECONDS] [extra libFuzzer flags...]
#   fuzz/run.sh cmin TARGET        # minimise fuzz/corpus/TARGET in place (set cover)
#   fuzz/run.sh list               # the targets
#
# libFuzzer through cargo-fuzz (cargo install cargo-fuzz --locked). cargo-fuzz passes
# nightly-only flags (-Zsanitizer=address, -Cllvm-args=-sanitizer-coverage-*) to rustc;
# RUSTC_BOOTSTRAP=1 lets the stable compiler accept them. The corpus is
# fuzz/corpus/TARGET (kept in git); crashes go to fuzz/artifacts/TARGET (ignored).
# A panic, a run over 2 s on one input (-timeout=2) or over 512 MB (-rss_limit_mb=512)
# is a bug: see docs/robustness.md. The run goes on past a crash (-fork=1 with
# -ignore_crashes/-ignore_timeouts/-ignore_ooms: one worker process, restarted after
# each crash), so that one shallow bug does not hide the others; every crashing input is
# kept in fuzz/artifacts/TARGET.
set -euo pipefail
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1

if ! command -v cargo-fuzz >/dev/null; then
    echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
    exit 2
fi

case "${1:-}" in
    "" | -h | --help)
        sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
        exit 2
        ;;
    list)
        cargo fuzz list
        ;;
    cmin)
        # A small corpus for git: a set cover of the edges (not of hit counts, which
        # would keep thousands of inputs) of fuzz/corpus/TARGET, written back in place.
        # Inputs over 8 KB are left out: the large real messages stay in the repository's
        # fixtures, which seed every run of `bounce` (below).
        target=${2:?target}
        nice -n 10 cargo fuzz build "$target"
        small=$(mktemp -d)
        out=$(mktemp -d)
        find "corpus/$target" -type f -size -8193c -exec cp {} "$small/" \;
        # One process runs every input: AddressSanitizer's quarantine of freed memory
        # (256 MB by default) would take it over -rss_limit_mb.
        mkdir -p "artifacts/$target"
        ASAN_OPTIONS=quarantine_size_mb=16 nice -n 10 \
            "target/x86_64-unknown-linux-gnu/release/$target" -merge=1 \
            -artifact_prefix="artifacts/$target/" \
            -set_cover_merge=1 -use_counters=0 -rss_limit_mb=512 -timeout=2 \
            "$out" "$small"
        rm -rf "$small"
        rm -rf "corpus/$target"
        mv "$out" "corpus/$target"
        chmod 755 "corpus/$target"
        ;;
    *)
        target=$1
        seconds=${2:-600}
        shift $(($# >= 2 ? 2 : 1))
        mkdir -p "corpus/$target"
        # New inputs go to the first folder; the others only seed the run.
        seeds=()
        case "$target" in
            bounce) seeds=(../tests/fixtures/corpus/eml) ;;
            log_line) seeds=(../tests/fixtures/logs) ;;
        esac
        nice -n 10 cargo fuzz run "$target" "corpus/$target" "${seeds[@]}" -- \
            -max_total_time="$seconds" -timeout=2 -rss_limit_mb=512 -print_final_stats=1 \
            -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 "$@"
        ;;
esac
