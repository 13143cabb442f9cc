#!/usr/bin/env bash
# Benchmark of the generated backend's authenticated path, in release, against local Postgres
# and Redis. Figures only: nothing here fails on timing.
#
# Prints, in one run:
#   - release binary size and the time this run's release build took (cold only on a fresh
#     target dir: the line says which);
#   - BENCH_ROUNDS interleaved rounds of GET /health/live and GET auth/me (the three gates: JWT,
#     token store in Redis, permission) at 64 connections: requests/s, p50, p99, and the
#     server's CPU time per auth/me request (utime + stime from /proc/PID/stat, before/after);
#   - the medians and the line `ratio auth/me ÷ health/live: N.NN`;
#   - GET /health/live p99 (4 connections) while 32 connections hammer POST auth/login;
#   - with BENCH_PEER_URL and BENCH_PEER_TOKEN (a peer already running, e.g. another template's
#     `users/me`), the peer's figures interleaved with ours and `ratio ours ÷ peer`.
#
# Requests go to 127.0.0.1 only; every phase is bounded (BENCH_SECONDS, default 10 s).
# Needs: Postgres (127.0.0.1:5432, user postgres, trust) and Redis (127.0.0.1:6379), cargo,
# cargo-generate, wrk (installed with apt-get when missing and root).
# Usage: bash ci/bench-auth.sh
#   env: BENCH_SECONDS, BENCH_ROUNDS (3), BENCH_APP_DIR (an already generated project to build
#   instead of generating one), CARGO_TARGET_DIR, KEEP=1 (keep the work folder),
#   BENCH_PEER_URL + BENCH_PEER_TOKEN (optional peer, bearer token for it).
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${BENCH_SECONDS:-10}"
rounds="${BENCH_ROUNDS:-3}"
connections=64
export USER="${USER:-root}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target/bench}"
pg_admin="${BENCH_DATABASE_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
redis_url="${BENCH_REDIS_URL:-redis://127.0.0.1:6379}"

say() { printf '\n== %s\n' "$*"; }
fail() { printf 'bench-auth: %s\n' "$*" >&2; exit 1; }

# --- tools (idempotent)
if ! command -v wrk >/dev/null; then
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || fail "install wrk (apt-get install wrk)"
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
command -v psql >/dev/null || fail "psql is needed to create the benchmark database"
command -v redis-cli >/dev/null || fail "redis-cli is needed to clean the benchmark keys"
psql "$pg_admin" -qAtc 'select 1' >/dev/null || fail "Postgres does not answer at $pg_admin"
redis-cli -u "$redis_url" ping >/dev/null || fail "Redis does not answer at $redis_url"

work="$(mktemp -d)"
run_id="$(date +%s)$$"
database="bench_${run_id}"
prefix="bench-${run_id}:"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  psql "$pg_admin" -qc "DROP DATABASE IF EXISTS \"$database\" WITH (FORCE)" >/dev/null 2>&1 || true
  redis-cli -u "$redis_url" --scan --pattern "${prefix}*" | xargs -r redis-cli -u "$redis_url" del >/dev/null 2>&1 || true
  [ "${KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

# --- generate (unless given a project) and build in release
if [ -n "${BENCH_APP_DIR:-}" ]; then
  app_dir="$(cd "$BENCH_APP_DIR" && pwd)"
else
  say "generating"
  "$repo/ci/cargo-generate.sh" --path "$repo" --name benchapp --silent --vcs none --destination "$work" \
    -d github_ci=false -d prod=false >"$work/generate.log" 2>&1 || { cat "$work/generate.log"; fail "generation failed"; }
  app_dir="$work/benchapp"
fi
app_name="$(sed -nE 's/^name = "([^"]+)"/\1/p' "$app_dir/Cargo.toml" | sed -n 2p)"
binary="$CARGO_TARGET_DIR/release/$app_name"
cold="warm"; [ -e "$CARGO_TARGET_DIR/release" ] || cold="cold"
say "building $app_name (release, $cold target dir)"
build_start=$(date +%s.%N)
(cd "$app_dir" && cargo build --release --locked --quiet)
build_end=$(date +%s.%N)
printf '  release build: %.0f s (%s target dir, load average %s)\n' \
  "$(echo "$build_end - $build_start" | bc)" "$cold" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '  release binary: %s bytes (%.1f MiB)\n' "$(stat -c %s "$binary")" \
  "$(echo "$(stat -c %s "$binary") / 1048576" | bc -l)"

psql "$pg_admin" -qc "CREATE DATABASE \"$database\"" >/dev/null
db_url="$(printf '%s' "$pg_admin" | sed -E 's#/[^/]*$##')/$database"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"

# Production mode (JSON logs at warn, no docs), with the request and login limits lifted:
# the benchmark measures the work, not the limiter turning requests away. Postgres on
# loopback without TLS (sslmode=disable), as a local socket would be.
jwt_secret=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
export ENVIRONMENT=prod HOST=127.0.0.1 PORT="$port" DATABASE_URL="$db_url?sslmode=disable" \
  REDIS_URL="$redis_url" REDIS_KEY_PREFIX="$prefix" LOG_LEVEL=warn \
  JWT_SECRET="$jwt_secret" STORAGE_URL="file://$work/storage" \
  RATE_LIMIT_PER_SECOND=1000000 RATE_LIMIT_BURST=1000000 \
  AUTH_RATE_LIMIT_PER_MINUTE=100000000 AUTH_RATE_LIMIT_BURST=1000000 \
  LOGIN_MAX_ATTEMPTS_PER_IP=100000000 LOGIN_MAX_ATTEMPTS_PER_ACCOUNT=100000000
mkdir -p "$work/storage"
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
curl -fsS -H "Authorization: Bearer $token" "$base/api/v1/auth/me" >/dev/null || fail "auth/me refused the token"

# --- load and summaries
cpu_ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }
# Round trips the server makes: Redis commands processed (whole server: run on a quiet Redis)
# and Postgres statements/transactions committed in the benchmark database.
redis_commands() { redis-cli -u "$redis_url" info stats | sed -nE 's/^total_commands_processed:([0-9]+).*/\1/p'; }
pg_commits() { psql "$pg_admin" -qAtc "select xact_commit from pg_stat_database where datname = '$database'"; }
ticks_per_second=$(getconf CLK_TCK)

# wrk_figures FILE → "rps p50_ms p99_ms requests non2xx"
wrk_figures() {
  python3 - "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def ms(value):
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
p50 = ms(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1))
p99 = ms(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1))
requests = int(re.search(r"(\d+) requests in", text).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
errors = re.search(r"Socket errors: (.*)", text)
print(f"{rps:.0f} {p50:.2f} {p99:.2f} {requests} {int(bad.group(1)) if bad else 0}"
      + (f" [{errors.group(1)}]" if errors else ""))
PY
}
show() { # label figures
  read -r rps p50 p99 requests bad rest <<<"$2"
  printf '  %-34s %8s req/s   p50 %7s ms   p99 %7s ms   non-2xx %s %s\n' "$1" "$rps" "$p50" "$p99" "$bad" "${rest:-}"
}
load_get() { # connections seconds url out [header]
  wrk --latency -t2 -c "$1" -d "${2}s" ${5:+-H "$5"} "$3" >"$4"
}

say "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), ${seconds}s per phase, $rounds rounds, $connections connections"
: >"$work/live.list"; : >"$work/me.list"; : >"$work/cpu.list"; : >"$work/peer.list"
for round in $(seq 1 "$rounds"); do
  printf ' round %s (load average %s)\n' "$round" "$(cut -d' ' -f1 /proc/loadavg)"
  load_get "$connections" "$seconds" "$base/health/live" "$work/live.out"
  figures="$(wrk_figures "$work/live.out")"; echo "$figures" >>"$work/live.list"
  show "GET /health/live" "$figures"

  before=$(cpu_ticks); redis_before=$(redis_commands); pg_before=$(pg_commits)
  load_get "$connections" "$seconds" "$base/api/v1/auth/me" "$work/me.out" "Authorization: Bearer $token"
  after=$(cpu_ticks); redis_after=$(redis_commands); pg_after=$(pg_commits)
  figures="$(wrk_figures "$work/me.out")"; echo "$figures" >>"$work/me.list"
  show "GET auth/me" "$figures"
  requests=$(echo "$figures" | cut -d' ' -f4)
  cpu_us=$(python3 -c "print(f'{($after - $before) / $ticks_per_second * 1e6 / max($requests, 1):.0f}')")
  echo "$cpu_us" >>"$work/cpu.list"
  printf '  %-34s %8s µs per request\n' "server CPU (auth/me)" "$cpu_us"
  python3 -c "r=max($requests,1); print(f'  {\"store round trips (auth/me)\":34} {($redis_after-$redis_before)/r:8.2f} Redis commands, {($pg_after-$pg_before)/r:.2f} Postgres transactions per request')"

  if [ -n "${BENCH_PEER_URL:-}" ]; then
    load_get "$connections" "$seconds" "$BENCH_PEER_URL" "$work/peer.out" "Authorization: Bearer ${BENCH_PEER_TOKEN:-}"
    figures="$(wrk_figures "$work/peer.out")"; echo "$figures" >>"$work/peer.list"
    show "peer $BENCH_PEER_URL" "$figures"
  fi
done

median() { # file column
  python3 -c "import statistics,sys; print(f'{statistics.median(float(l.split()[$2]) for l in open(sys.argv[1]) if l.strip()):.2f}')" "$1"
}
say "medians over $rounds rounds"
printf '  %-34s %8.0f req/s   p50 %7s ms   p99 %7s ms\n' "GET /health/live" \
  "$(median "$work/live.list" 0)" "$(median "$work/live.list" 1)" "$(median "$work/live.list" 2)"
printf '  %-34s %8.0f req/s   p50 %7s ms   p99 %7s ms\n' "GET auth/me" \
  "$(median "$work/me.list" 0)" "$(median "$work/me.list" 1)" "$(median "$work/me.list" 2)"
printf '  %-34s %8.0f µs per request\n' "server CPU (auth/me)" "$(median "$work/cpu.list" -1)"
printf 'ratio auth/me ÷ health/live: %.2f\n' \
  "$(echo "$(median "$work/me.list" 0) / $(median "$work/live.list" 0)" | bc -l)"
if [ -s "$work/peer.list" ]; then
  printf 'ratio ours ÷ peer: %.2f\n' "$(echo "$(median "$work/me.list" 0) / $(median "$work/peer.list" 0)" | bc -l)"
else
  echo "  (no peer: set BENCH_PEER_URL and BENCH_PEER_TOKEN to compare with another running API)"
fi

say "GET /health/live (4 connections) while 32 connections hammer POST auth/login"
cat >"$work/login.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$credentials'
LUA
wrk --latency -t1 -c 32 -d "$((seconds + 2))s" -s "$work/login.lua" "$base/api/v1/auth/login" >"$work/login.out" &
login_pid=$!
sleep 1
wrk --latency -t1 -c 4 -d "${seconds}s" "$base/health/live" >"$work/live-login.out"
wait "$login_pid"
show "GET /health/live under login load" "$(wrk_figures "$work/live-login.out")"
show "POST auth/login" "$(wrk_figures "$work/login.out")"
printf '  load average at the end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
