#!/usr/bin/env bash
# Memory and stability benchmark of the generated backend, in release, against local Postgres
# and Redis.
#
# Prints:
#   1. two bursts of 128 concurrent logins: statuses, peak RSS (sampled and the kernel's
#      high-water mark) against the bound (BENCH_RSS_BOUND_MB, default 256), then the RSS after
#      BENCH_IDLE_SECONDS idle (what was released);
#   2. a soak (BENCH_SOAK_SECONDS, default 60): GET auth/me on 64 connections plus POST
#      auth/login on 4, with GET /health/live sampled alongside: errors, /health/live p50/p99,
#      RSS before, peak and after, then after BENCH_IDLE_SECONDS (default 10) idle.
#
# Fails (exit 1) on any 5xx other than a 503 with Retry-After, on a connection error, or when
# the burst's peak RSS exceeds the bound. Requests go to 127.0.0.1 only.
# Needs: Postgres (127.0.0.1:5432, user postgres, trust), Redis (127.0.0.1:6379), cargo,
# cargo-generate, python3, psql, redis-cli, curl.
# Usage: bash ci/bench-memory.sh   (env: BENCH_RSS_BOUND_MB, BENCH_BURST, BENCH_SOAK_SECONDS,
#        BENCH_IDLE_SECONDS, BENCH_APP_BIN, CARGO_TARGET_DIR, KEEP=1; extra app settings pass through, e.g.
#        PASSWORD_HASH_MAX_CONCURRENT=4)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
bound_mb="${BENCH_RSS_BOUND_MB:-256}"
burst="${BENCH_BURST:-128}"
soak_seconds="${BENCH_SOAK_SECONDS:-60}"
idle_seconds="${BENCH_IDLE_SECONDS:-10}"
export USER="${USER:-root}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target/bench}"
pg_admin="${BENCH_DATABASE_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
redis_url="${BENCH_REDIS_URL:-redis://127.0.0.1:6379}"

bench_name=memory
# shellcheck source=ci/bench-common.sh
. "$repo/ci/bench-common.sh"

say "generating and building (release)"
"$generator" generate --path "$repo" --name benchapp --silent --destination "$work" \
  -d github_ci=false -d prod=false >"$work/generate.log" 2>&1 || { cat "$work/generate.log"; fail "generation failed"; }
app_dir="$work/benchapp"
# BENCH_APP_BIN: an already built release binary of a generated project (the one from the
# project's image, say), instead of building this one.
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

# Production mode with the request and login limits lifted: the bursts must reach the
# password hasher, which is what holds the memory.
jwt_secret=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
mfa_key=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
# No mail in the bench: the guard refuses the dev file mailer in prod, so the account mails are off.
export EMAIL_VERIFICATION=false REQUIRE_VERIFIED_EMAIL=false PASSWORD_RESET=false \
  PUBLIC_URL=https://bench.example.com MFA_ENCRYPTION_KEY="$mfa_key"
# Files (the storage toggle): the guard wants a strong key for encryption at rest.
storage_key=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
export STORAGE_ENCRYPTION_KEY="$storage_key"
# The metrics listener on a free port: a fixed one may be taken by another app on this host.
export METRICS_ADDRESS=127.0.0.1:0
export ENVIRONMENT=prod HOST=127.0.0.1 PORT="$port" DATABASE_URL="$db_url" REDIS_URL="$redis_url" \
  REDIS_KEY_PREFIX="$prefix" LOG_LEVEL=error JWT_SECRET="$jwt_secret" \
  RATE_LIMIT_PER_SECOND=1000000 RATE_LIMIT_BURST=1000000 \
  AUTH_RATE_LIMIT_PER_MINUTE=100000000 AUTH_RATE_LIMIT_BURST=1000000 \
  LOGIN_MAX_ATTEMPTS_PER_IP=100000000 LOGIN_MAX_ATTEMPTS_PER_ACCOUNT=100000000
(cd "$app_dir" && "$binary" db migrate >/dev/null)
(cd "$app_dir" && exec "$binary" serve >"$work/server.log" 2>&1) &
server_pid=$!
for _ in $(seq 1 100); do
  curl -fsS "$base/health/ready" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "$base/health/ready" >/dev/null || { cat "$work/server.log"; fail "the app did not become ready"; }

password="orchid-kettle-basalt-$run_id"
login_email="bench-login-${run_id}@example.com"
me_email="bench-me-${run_id}@example.com"
for email in "$login_email" "$me_email"; do
  curl -fsS -X POST -H 'content-type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"$password\"}" "$base/api/v1/auth/register" >/dev/null
done

status=0
say "machine: $(nproc) cores; hashing slots: ${PASSWORD_HASH_MAX_CONCURRENT:-one per core}, queue timeout ${PASSWORD_HASH_QUEUE_TIMEOUT_MS:-2000} ms"
say "2 bursts of $burst concurrent logins (bound ${bound_mb} MiB)"
python3 "$repo/ci/bench_memory.py" burst "$base" "$server_pid" "$login_email" "$password" \
  "$burst" 2 "$bound_mb" "$idle_seconds" || status=1
if [ "$soak_seconds" -gt 0 ]; then
  say "soak: ${soak_seconds}s of auth/me x64 + login x4, then ${idle_seconds}s idle"
  python3 "$repo/ci/bench_memory.py" soak "$base" "$server_pid" "$login_email" "$password" \
    "$me_email" "$soak_seconds" "$idle_seconds" || status=1
fi
kill -0 "$server_pid" 2>/dev/null || { tail -n 20 "$work/server.log"; fail "the server died"; }
exit "$status"
