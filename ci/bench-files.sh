#!/usr/bin/env bash
# Benchmark of the files routes, in release, against local Postgres, Redis and a local
# storage folder: upload and download of a 10 MB and a 100 MB file (curl, streamed from and to
# disk), MB/s of each, and the app's resident memory — after start-up, and its peak after each
# size. Streaming keeps the peak flat: the 100 MB file must not cost ~90 MB more than the 10 MB
# one (the script fails when the growth exceeds BENCH_MAX_RSS_GROWTH_MIB, default 40).
#
# Needs: Postgres (127.0.0.1:5432, user postgres, trust), Redis (127.0.0.1:6379), cargo,
# cargo-generate, curl, python3. The release build lands in CARGO_TARGET_DIR and is reused.
# Usage: bash ci/bench-files.sh          (env: BENCH_APP_BIN, CARGO_TARGET_DIR, BENCH_MAX_RSS_GROWTH_MIB, KEEP=1)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
export USER="${USER:-root}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target/bench}"
pg_admin="${BENCH_DATABASE_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
redis_url="${BENCH_REDIS_URL:-redis://127.0.0.1:6379}"
max_growth="${BENCH_MAX_RSS_GROWTH_MIB:-40}"

bench_name=files
# shellcheck source=ci/bench-common.sh
. "$repo/ci/bench-common.sh"

say "generating and building (release)"
"$generator" generate --path "$repo" --name benchapp --silent --destination "$work" \
  -d github_ci=false -d prod=false -d storage=true >"$work/generate.log" 2>&1 \
  || { cat "$work/generate.log"; fail "generation failed"; }
app_dir="$work/benchapp"
# BENCH_APP_BIN: an already built release binary of a generated project with storage on (the
# one from the project's image, say), instead of building this one.
if [ -n "${BENCH_APP_BIN:-}" ]; then
  [ -x "$BENCH_APP_BIN" ] || fail "BENCH_APP_BIN=$BENCH_APP_BIN is not an executable"
  binary=$BENCH_APP_BIN
else
  (cd "$app_dir" && cargo build --release --locked --quiet)
  binary="$CARGO_TARGET_DIR/release/benchapp"
fi

psql "$pg_admin" -qc "CREATE DATABASE \"$database\"" >/dev/null
db_url="$(printf '%s' "$pg_admin" | sed -E 's#/[^/]*$##')/$database"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"

# dev applies the migrations itself; limits lifted so the figure is the file path, not the
# limiter. Uploads up to 128 MiB.
# The metrics listener on a free port: a fixed one may be taken by another app on this host.
export METRICS_ADDRESS=127.0.0.1:0
export ENVIRONMENT=dev HOST=127.0.0.1 PORT="$port" DATABASE_URL="$db_url" REDIS_URL="$redis_url" \
  REDIS_KEY_PREFIX="$prefix" LOG_LEVEL=warn STORAGE_URL="file://$work/storage" \
  FILES_MAX_BYTES=$((128 * 1024 * 1024)) REQUEST_TIMEOUT_SECS=300 \
  RATE_LIMIT_PER_SECOND=1000000 RATE_LIMIT_BURST=1000000 \
  AUTH_RATE_LIMIT_PER_MINUTE=100000000 AUTH_RATE_LIMIT_BURST=1000000
mkdir -p "$work/storage"
(cd "$app_dir" && exec "$binary" serve >"$work/server.log" 2>&1) &
server_pid=$!
for _ in $(seq 1 300); do
  curl -fsS "$base/health/ready" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "$base/health/ready" >/dev/null || { cat "$work/server.log"; fail "the app did not become ready"; }

email="bench-${run_id}@example.com"
password="orchid-kettle-basalt-$run_id"
credentials="{\"email\":\"$email\",\"password\":\"$password\"}"
curl -fsS -X POST -H 'content-type: application/json' -d "$credentials" "$base/api/v1/auth/register" >/dev/null
token="$(curl -fsS -X POST -H 'content-type: application/json' -d "$credentials" "$base/api/v1/auth/login" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"

rss() { awk -v key="$1" '$1 == key":" {printf "%.1f", $2/1024}' "/proc/$server_pid/status"; }

say "machine: $(nproc) cores; app RSS after start-up $(rss VmRSS) MiB"
declare -A peak
for mb in 10 100; do
  sample="$work/sample-$mb.pdf"
  # A PDF header (an allowed, sniffable type) then random bytes.
  python3 - "$sample" "$mb" <<'PY'
import os, sys
path, mb = sys.argv[1], int(sys.argv[2])
with open(path, "wb") as out:
    out.write(b"%PDF-1.7\n")
    for _ in range(mb):
        out.write(os.urandom(1000 * 1000))
PY
  size=$(stat -c %s "$sample")
  up="$(curl -fsS -o "$work/up.json" -w '%{time_total}' -H "authorization: Bearer $token" \
    -F "file=@$sample;type=application/pdf" "$base/api/v1/files")" || { cat "$work/server.log"; fail "upload failed"; }
  id="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$work/up.json")"
  down="$(curl -fsS -o "$work/down.bin" -w '%{time_total}' -H "authorization: Bearer $token" \
    "$base/api/v1/files/$id/content")" || fail "download failed"
  cmp -s "$sample" "$work/down.bin" || fail "the downloaded file differs from the uploaded one"
  peak[$mb]="$(rss VmHWM)"
  python3 - "$mb" "$size" "$up" "$down" "${peak[$mb]}" <<'PY'
import sys
mb, size, up, down, peak = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
print(f"  {mb:>3} MB file: upload {size / up / 1e6:6.1f} MB/s ({up:.2f} s)   "
      f"download {size / down / 1e6:6.1f} MB/s ({down:.2f} s)   app peak RSS so far {peak} MiB")
PY
  rm -f "$work/down.bin"
done
growth="$(python3 -c "print(f'{${peak[100]} - ${peak[10]}:.1f}')")"
say "peak RSS growth from the 10 MB to the 100 MB file: $growth MiB (limit $max_growth MiB)"
python3 -c "import sys; sys.exit(0 if ${peak[100]} - ${peak[10]} <= $max_growth else 1)" \
  || fail "memory grows with the file size: uploads or downloads are not streamed"
