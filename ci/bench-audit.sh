#!/usr/bin/env bash
# Wall time of `shasec audit` over a project directory (goal: under 0.3 s for a generated
# project). Builds shasec in release mode, runs one warm-up and then RUNS timed audits, and
# prints every run plus the median and the fastest.
#
# Usage: ci/bench-audit.sh [PROJECT_DIR] [RUNS]   (default: the template, 10 runs)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
project="${1:-$root/template}"
runs="${2:-10}"

cargo build --quiet --release --manifest-path "$root/Cargo.toml" -p shasec
shasec="$root/target/release/shasec"
[ -d "$project" ] || { echo "bench-audit: no such directory: $project" >&2; exit 2; }

audit() {
    # Exit 1 means findings reached the gate, which is not a benchmark failure.
    "$shasec" audit --format json "$project" >/dev/null || [ $? -eq 1 ]
}

audit # warm the file cache
files="$(cd "$project" && git ls-files --others --cached --exclude-standard 2>/dev/null | wc -l || true)"
# Wall time is the goal; CPU time (user + system) is printed too, because on a loaded machine
# the two differ and only the first depends on the neighbours.
TIMEFORMAT='%R %U %S'
samples="$(for _ in $(seq "$runs"); do { time audit; } 2>&1; done)"
sort -n <<<"$samples" | awk -v project="$project" -v files="$files" '
    { wall[NR] = $1; cpu += $2 + $3 }
    END {
        median = (NR % 2) ? wall[(NR + 1) / 2] : (wall[NR / 2] + wall[NR / 2 + 1]) / 2
        printf "shasec audit %s (%s files): %d runs, wall median %.3f s, fastest %.3f s, slowest %.3f s; CPU %.3f s per run (goal: wall < 0.300 s)\n",
            project, files, NR, median, wall[1], wall[NR], cpu / NR
    }'
