#!/usr/bin/env bash
# Benchmark of the generated backend's auth path, in release, against local Postgres and Redis.
#
# Prints:
#   1. GET auth/me (the three gates: JWT, token store in Redis, user + roles from Postgres, casbin)
#      at 64 connections: requests/s, p50, p99;
#   2. GET /health/live p99 while 32 connections hammer POST auth/login (argon2id on the
#      blocking pool), plus the login throughput.
#
# Requests go to 127.0.0.1 only; every run is bounded (BENCH_SECONDS, default 10 s per phase).
# Needs: Postgres (127.0.0.1:5432, user postgres, trust) and Redis (127.0.0.1:6379), cargo,
# cargo-generate, and oha or wrk (installed with `apt-get install wrk` when missing and root).
# Usage: bash ci/bench-auth.sh            (env: BENCH_SECONDS, CARGO_TARGET_DIR, KEEP=1)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${BENCH_SECONDS:-10}"
export USER="${USER:-root}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target/bench}"
pg_admin="${BENCH_DATABASE_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
redis_url="${BENCH_REDIS_URL:-redis://127.0.0.1:6379}"

say() { printf '\n== %s\n' "$*"; }
fail() { printf 'bench-auth: %s\n' "$*" >&2; exit 1; }

# --- load generator
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
[ -n "$generator" ] || generator=/root/.cache/shaapi/tools/bin/cargo-generate
[ -x "$generator" ] || fail "cargo-generate not found"

# --- generate and build in release
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
  -d github_ci=false -d prod=false >"$work/generate.log" 2>&1 || { cat "$work/generate.log"; fail "generation failed"; }
app_dir="$work/benchapp"
(cd "$app_dir" && cargo build --release --quiet)
binary="$CARGO_TARGET_DIR/release/benchapp"

psql "$pg_admin" -qc "CREATE DATABASE \"$database\"" >/dev/null
db_url="$(printf '%s' "$pg_admin" | sed -E 's#/[^/]*$##')/$database"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"

# Production mode (JSON logs at warn, no docs), with the request and login limits lifted:
# the benchmark measures the work, not the limiter turning requests away.
jwt_secret=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
export ENVIRONMENT=prod HOST=127.0.0.1 PORT="$port" DATABASE_URL="$db_url" REDIS_URL="$redis_url" \
  REDIS_KEY_PREFIX="$prefix" LOG_LEVEL=warn \
  JWT_SECRET="$jwt_secret" \
  RATE_LIMIT_PER_SECOND=1000000 RATE_LIMIT_BURST=1000000 \
  AUTH_RATE_LIMIT_PER_MINUTE=100000000 AUTH_RATE_LIMIT_BURST=1000000 \
  LOGIN_MAX_ATTEMPTS_PER_IP=100000000 LOGIN_MAX_ATTEMPTS_PER_ACCOUNT=100000000
# Accounts: the guard wants a mail relay, https links and a strong MFA key; the relay on this
# host is not there (the one verification mail fails in the background), and the benchmark
# user logs in without verifying its address.
mfa_key=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
export SMTP_HOST=127.0.0.1 SMTP_TLS=none PUBLIC_URL=https://bench.example.com \
  MFA_ENCRYPTION_KEY="$mfa_key" REQUIRE_VERIFIED_EMAIL=false
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

# --- load helpers: print requests/s and latency percentiles
oha_summary() { # file
  python3 - "$1" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
summary, pct = data["summary"], data["latencyPercentiles"]
codes = data.get("statusCodeDistribution", {})
print(f"  requests/s {summary['requestsPerSec']:.0f}   p50 {pct['p50']*1000:.2f} ms   "
      f"p99 {pct['p99']*1000:.2f} ms   status {codes}")
PY
}
wrk_summary() { # file
  awk '/Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} /Non-2xx/ {bad=$NF}
       END {printf "  requests/s %s   p50 %s   p99 %s   non-2xx %s\n", rps, p50, p99, (bad==""?0:bad)}' "$1"
}
cat >"$work/login.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$credentials'
LUA

load_get() { # connections seconds url out [header]
  if [ "$tool" = oha ]; then
    oha --no-tui --output-format json -c "$1" -z "${2}s" ${5:+-H "$5"} "$3" >"$4"
  else
    wrk --latency -t2 -c "$1" -d "${2}s" ${5:+-H "$5"} "$3" >"$4"
  fi
}
load_login() { # connections seconds out
  if [ "$tool" = oha ]; then
    oha --no-tui --output-format json -c "$1" -z "${2}s" -m POST -H 'content-type: application/json' \
      -d "$credentials" "$base/api/v1/auth/login" >"$3"
  else
    wrk --latency -t2 -c "$1" -d "${2}s" -s "$work/login.lua" "$base/api/v1/auth/login" >"$3"
  fi
}
summary() { if [ "$tool" = oha ]; then oha_summary "$1"; else wrk_summary "$1"; fi; }

say "machine: $(nproc) cores, tool: $tool, ${seconds}s per phase"
say "GET auth/me, 64 connections"
load_get 64 "$seconds" "$base/api/v1/auth/me" "$work/me.out" "Authorization: Bearer $token"
summary "$work/me.out"

say "GET /health/live (4 connections) while 32 connections hammer POST auth/login"
load_login 32 "$((seconds + 2))" "$work/login.out" &
login_pid=$!
sleep 1
load_get 4 "$seconds" "$base/health/live" "$work/live.out"
wait "$login_pid"
printf '  /health/live:\n'; summary "$work/live.out"
printf '  auth/login:\n'; summary "$work/login.out"

say "baseline: GET /health/live (4 connections) with no other load"
load_get 4 "$seconds" "$base/health/live" "$work/live-idle.out"
summary "$work/live-idle.out"
