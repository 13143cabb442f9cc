#!/usr/bin/env bash
# Benchmark of the example resource, in release, against local Postgres and Redis.
#
# Prints: GET articles (anonymous, a page of 20 out of BENCH_ARTICLES published ones, the
# count query included) at 64 connections: requests/s, p50, p99, and the app's peak RSS.
# (Upload and download of files: ci/bench-files.sh.)
#
# Requests go to 127.0.0.1 only; the load phase is bounded (BENCH_SECONDS, default 10 s).
# Needs: Postgres (127.0.0.1:5432, user postgres, trust), Redis (127.0.0.1:6379), cargo,
# cargo-generate, and oha or wrk (installed with `apt-get install wrk` when missing and root).
# Usage: bash ci/bench-resource.sh       (env: BENCH_SECONDS, BENCH_ARTICLES, CARGO_TARGET_DIR, KEEP=1)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${BENCH_SECONDS:-10}"
articles="${BENCH_ARTICLES:-500}"
export USER="${USER:-root}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target/bench}"
pg_admin="${BENCH_DATABASE_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
redis_url="${BENCH_REDIS_URL:-redis://127.0.0.1:6379}"

say() { printf '\n== %s\n' "$*"; }
fail() { printf 'bench-resource: %s\n' "$*" >&2; exit 1; }

tool=""
if command -v oha >/dev/null; then tool=oha
elif command -v wrk >/dev/null; then tool=wrk
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
  tool=wrk
else
  fail "install oha (cargo install oha --locked) or wrk"
fi
command -v psql >/dev/null || fail "psql is needed to create the benchmark database"
command -v redis-cli >/dev/null || fail "redis-cli is needed to clean the benchmark keys"
psql "$pg_admin" -qAtc 'select 1' >/dev/null || fail "Postgres does not answer at $pg_admin"
redis-cli -u "$redis_url" ping >/dev/null || fail "Redis does not answer at $redis_url"
generator="$(command -v cargo-generate || true)"
[ -n "$generator" ] || generator="$HOME/.cache/shaapi/tools/bin/cargo-generate"
[ -x "$generator" ] || fail "cargo-generate not found (bash ci/cargo-generate.sh installs it)"

work="$(mktemp -d)"
run_id="$(date +%s)$$"
database="bench_${run_id}"
prefix="bench-${run_id}:"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  psql "$pg_admin" -qc "DROP DATABASE IF EXISTS \"$database\" WITH (FORCE)" >/dev/null 2>&1 || true
  redis-cli -u "$redis_url" --scan --pattern "${prefix}*" | xargs -r redis-cli -u "$redis_url" del >/dev/null 2>&1 || true
  [ "${KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

say "generating and building (release)"
"$generator" generate --path "$repo" --name benchapp --silent --destination "$work" \
  -d github_ci=false -d prod=false -d example_resource=true >"$work/generate.log" 2>&1 \
  || { cat "$work/generate.log"; fail "generation failed"; }
app_dir="$work/benchapp"
(cd "$app_dir" && cargo build --release --quiet)
binary="$CARGO_TARGET_DIR/release/benchapp"

psql "$pg_admin" -qc "CREATE DATABASE \"$database\"" >/dev/null
db_url="$(printf '%s' "$pg_admin" | sed -E 's#/[^/]*$##')/$database"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"

# Production mode with the request limits lifted: the figure is the work, not the limiter.
jwt_secret=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
# No mail in the bench (the guard refuses the dev file mailer in prod); strong keys for MFA
# secrets and, with the storage toggle, files at rest.
mfa_key=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
storage_key=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
export EMAIL_VERIFICATION=false REQUIRE_VERIFIED_EMAIL=false PASSWORD_RESET=false \
  PUBLIC_URL=https://bench.example.com \
  MFA_ENCRYPTION_KEY="$mfa_key" \
  STORAGE_ENCRYPTION_KEY="$storage_key"
# The metrics listener on a free port: a fixed one may be taken by another app on this host.
export METRICS_ADDRESS=127.0.0.1:0
export ENVIRONMENT=prod HOST=127.0.0.1 PORT="$port" DATABASE_URL="$db_url" REDIS_URL="$redis_url" \
  REDIS_KEY_PREFIX="$prefix" LOG_LEVEL=warn JWT_SECRET="$jwt_secret" \
  STORAGE_URL="file://$work/storage" \
  RATE_LIMIT_PER_SECOND=1000000 RATE_LIMIT_BURST=1000000 \
  AUTH_RATE_LIMIT_PER_MINUTE=100000000 AUTH_RATE_LIMIT_BURST=1000000
mkdir -p "$work/storage"
(cd "$app_dir" && "$binary" db migrate >/dev/null)
(cd "$app_dir" && exec "$binary" serve >"$work/server.log" 2>&1) &
server_pid=$!
for _ in $(seq 1 100); do
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

say "creating $articles published articles"
python3 - "$base" "$token" "$articles" <<'PY'
import json, sys, urllib.request
base, token, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(count):
    body = json.dumps({"title": f"Article {i:05}", "body": "Lorem ipsum " * 40, "published": True})
    request = urllib.request.Request(f"{base}/api/v1/articles", data=body.encode(), method="POST",
        headers={"content-type": "application/json", "authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request) as response:
        assert response.status == 201, response.status
PY
page="$(curl -fsS "$base/api/v1/articles?per_page=20")"
python3 -c 'import json,sys; p=json.loads(sys.argv[1]); assert len(p["items"])==20 and p["total"]==int(sys.argv[2]), p["total"]' \
  "$page" "$articles" || fail "the list does not answer 20 of $articles articles"

summary() { # file
  if [ "$tool" = oha ]; then
    python3 - "$1" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
summary, pct = data["summary"], data["latencyPercentiles"]
print(f"  requests/s {summary['requestsPerSec']:.0f}   p50 {pct['p50']*1000:.2f} ms   "
      f"p99 {pct['p99']*1000:.2f} ms   status {data.get('statusCodeDistribution', {})}")
PY
  else
    awk '/Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} /Non-2xx/ {bad=$NF}
         END {printf "  requests/s %s   p50 %s   p99 %s   non-2xx %s\n", rps, p50, p99, (bad==""?0:bad)}' "$1"
  fi
}

say "machine: $(nproc) cores, tool: $tool, ${seconds}s"
say "GET articles?per_page=20 (anonymous), 64 connections"
url="$base/api/v1/articles?per_page=20"
if [ "$tool" = oha ]; then
  oha --no-tui --output-format json -c 64 -z "${seconds}s" "$url" >"$work/list.out"
else
  wrk --latency -t2 -c 64 -d "${seconds}s" "$url" >"$work/list.out"
fi
summary "$work/list.out"
printf '  app peak RSS %s MiB\n' "$(awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$server_pid/status")"
