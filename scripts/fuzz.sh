#!/usr/bin/env bash
# Long fuzzing (README: Reliability): every target of tests/fuzz.rs — import, render/validate,
# the text parsers, the Service status computation — for FUZZ_SECONDS each (600 by default),
# fresh seeds batch after batch. A failure is shrunk and saved under tests/fixtures/fuzz/<target>/,
# where every later `cargo test` replays it; commit it with the fix. The normal test run
# (scripts/test.sh) runs the same targets for 3 s each.
#
#   scripts/fuzz.sh            600 s per target (about 40 min in all)
#   scripts/fuzz.sh 60         60 s per target
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export FUZZ_SECONDS="${1:-${FUZZ_SECONDS:-600}}"
echo "[fuzz] ${FUZZ_SECONDS} s per target" >&2
# The release profile: several times the cases per second of a debug build.
cargo test --locked --release --test fuzz -- --nocapture --test-threads=1 2>&1 | grep -E '^(FUZZ|test |thread|fuzz target|minimal input)|panicked'
