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
#   - a bare axum hello-world (ci/bench-bare, built with this project's Cargo.lock: same axum,
#     hyper, tokio) interleaved with ours, its server CPU per request, and the line
#     `ratio /health/live ÷ bare axum: N.NN`;
#   - GET /health/live p99 (4 connections) while 32 connections hammer POST auth/login;
#   - with a peer, its `users/me` interleaved with ours and `ratio ours ÷ peer`; otherwise the
#     line `peer: not present`. BENCH_PEER_DIR: a checkout of the FastAPI full-stack template
#     (github.com/fastapi/full-stack-fastapi-template), run by this script with two uvicorn
#     workers on the same Postgres (its own database), its Python dependencies in a venv under
#     ~/.cache/shaapi/peer-venv; or BENCH_PEER_URL + BENCH_PEER_TOKEN: a peer already running.
#
# Requests go to 127.0.0.1 only; every phase is bounded (BENCH_SECONDS, default 10 s).
# Needs: Postgres (127.0.0.1:5432, user postgres, trust) and Redis (127.0.0.1:6379), cargo,
# cargo-generate, wrk (installed with apt-get when missing and root).
# Usage: bash ci/bench-auth.sh
#   env: BENCH_SECONDS, BENCH_ROUNDS (3), BENCH_APP_DIR (an already generated project to build
#   instead of generating one), CARGO_TARGET_DIR, KEEP=1 (keep the work folder),
#   BENCH_PEER_DIR or BENCH_PEER_URL + BENCH_PEER_TOKEN (optional peer, see above),
#   BENCH_UNSTRIPPED=1 (keep symbols in the release binary, for perf or callgrind; the stripped
#   size is printed too), BENCH_APP_ENV="NAME=VALUE …" (extra settings for the app, e.g.
#   USER_CACHE_CAPACITY=0 to measure without the user cache), BENCH_APP_PRELOAD (a library
#   preloaded into the app alone, e.g. an allocator), BENCH_PROFILE=1 (then perf's top frames
#   and callgrind's instructions per request by component, for auth/me and /health/live),
#   BENCH_PROFILE_FRAMES (30), BENCH_PROFILE_LAYERS.
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
peer_database="bench_peer_${run_id}"
server_pid=""
bare_pid=""
peer_pid=""
stop() { # pid
  if [ -n "$1" ]; then kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; fi
}
cleanup() {
  stop "$server_pid"; stop "$bare_pid"; stop "$peer_pid"
  psql "$pg_admin" -qc "DROP DATABASE IF EXISTS \"$database\" WITH (FORCE)" >/dev/null 2>&1 || true
  psql "$pg_admin" -qc "DROP DATABASE IF EXISTS \"$peer_database\" WITH (FORCE)" >/dev/null 2>&1 || true
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
[ "${BENCH_UNSTRIPPED:-0}" = 1 ] && export CARGO_PROFILE_RELEASE_STRIP=false
say "building $app_name (release, $cold target dir)"
build_start=$(date +%s.%N)
(cd "$app_dir" && cargo build --release --locked --quiet)
build_end=$(date +%s.%N)
printf '  release build: %.0f s (%s target dir, load average %s)\n' \
  "$(echo "$build_end - $build_start" | bc)" "$cold" "$(cut -d' ' -f1-3 /proc/loadavg)"
size_line() { printf '%s bytes (%.1f MiB)' "$1" "$(echo "$1 / 1048576" | bc -l)"; }
strip -o "$work/stripped" "$binary"
printf '  release binary: %s; stripped: %s\n' "$(size_line "$(stat -c %s "$binary")")" \
  "$(size_line "$(stat -c %s "$work/stripped")")"

# The bare axum hello-world: this project's lock file, so the same axum, hyper and tokio.
mkdir -p "$work/bare/src"
cp "$repo/ci/bench-bare/Cargo.toml.in" "$work/bare/Cargo.toml"
cp "$repo/ci/bench-bare/src/main.rs" "$work/bare/src/main.rs"
cp "$app_dir/Cargo.lock" "$work/bare/Cargo.lock"
(cd "$work/bare" && cargo build --release --quiet)
bare_binary="$CARGO_TARGET_DIR/release/bench-bare-axum"
for crate in axum hyper tokio; do
  ours=$(sed -n "/^name = \"$crate\"$/{n;s/version = //p}" "$app_dir/Cargo.lock" | tr -d '"' | tr '\n' ' ')
  bare=$(sed -n "/^name = \"$crate\"$/{n;s/version = //p}" "$work/bare/Cargo.lock" | tr -d '"' | tr '\n' ' ')
  [ "$ours" = "$bare" ] || fail "the bare server has $crate $bare, the app $ours"
done
strip -o "$work/bare-stripped" "$bare_binary"
printf '  bare axum binary, stripped: %s (same axum, hyper and tokio as the app)\n' \
  "$(size_line "$(stat -c %s "$work/bare-stripped")")"

psql "$pg_admin" -qc "CREATE DATABASE \"$database\"" >/dev/null
db_url="$(printf '%s' "$pg_admin" | sed -E 's#/[^/]*$##')/$database"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"

# Production mode (JSON logs at warn, no docs), with the request and login limits lifted:
# the benchmark measures the work, not the limiter turning requests away. Postgres on
# loopback without TLS (sslmode=disable), as a local socket would be.
jwt_secret=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
# The metrics listener on a free port: a fixed one may be taken by another app on this host.
export METRICS_ADDRESS=127.0.0.1:0
export ENVIRONMENT=prod HOST=127.0.0.1 PORT="$port" DATABASE_URL="$db_url?sslmode=disable" \
  REDIS_URL="$redis_url" REDIS_KEY_PREFIX="$prefix" LOG_LEVEL=warn \
  JWT_SECRET="$jwt_secret" STORAGE_URL="file://$work/storage" \
  RATE_LIMIT_PER_SECOND=1000000 RATE_LIMIT_BURST=1000000 \
  AUTH_RATE_LIMIT_PER_MINUTE=100000000 AUTH_RATE_LIMIT_BURST=1000000 \
  LOGIN_MAX_ATTEMPTS_PER_IP=100000000 LOGIN_MAX_ATTEMPTS_PER_ACCOUNT=100000000
mkdir -p "$work/storage"
# Extra settings for this run (BENCH_APP_ENV), e.g. USER_CACHE_CAPACITY=0.
for assignment in ${BENCH_APP_ENV:-}; do export "${assignment?}"; done
# Accounts: the guard wants a mail relay, https links and a strong MFA key; the relay on this
# host is not there (the one verification mail fails in the background), and the benchmark
# user logs in without verifying its address.
mfa_key=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
export SMTP_HOST=127.0.0.1 SMTP_TLS=none PUBLIC_URL=https://bench.example.com \
  MFA_ENCRYPTION_KEY="$mfa_key" REQUIRE_VERIFIED_EMAIL=false
# Files (the storage toggle): the guard wants a strong key for encryption at rest.
storage_key=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
export STORAGE_ENCRYPTION_KEY="$storage_key"
(cd "$app_dir" && "$binary" db migrate >/dev/null)
# BENCH_APP_PRELOAD: a shared library preloaded into the app only (e.g. another allocator,
# /usr/lib/x86_64-linux-gnu/libjemalloc.so.2), to try a change before building it in.
(cd "$app_dir" && exec env ${BENCH_APP_PRELOAD:+LD_PRELOAD="$BENCH_APP_PRELOAD"} "$binary" serve >"$work/server.log" 2>&1) &
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

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { # url what
  for _ in $(seq 1 150); do curl -fsS "$1" >/dev/null 2>&1 && return 0; sleep 0.2; done
  fail "$2 did not answer at $1"
}
bare_port="$(free_port)"
PORT="$bare_port" "$bare_binary" >"$work/bare.log" 2>&1 &
bare_pid=$!
bare_url="http://127.0.0.1:$bare_port/health/live"
wait_for "$bare_url" "the bare axum server"

# --- the peer: a checkout of the FastAPI full-stack template, run here, or one already running
peer_url="${BENCH_PEER_URL:-}"
peer_token="${BENCH_PEER_TOKEN:-}"
if [ -n "${BENCH_PEER_DIR:-}" ]; then
  say "starting the peer (FastAPI full-stack template, 2 uvicorn workers)"
  [ -f "$BENCH_PEER_DIR/backend/app/main.py" ] || fail "BENCH_PEER_DIR=$BENCH_PEER_DIR has no backend/app/main.py"
  venv="${BENCH_PEER_VENV:-$HOME/.cache/shaapi/peer-venv}"
  if [ ! -x "$venv/bin/uvicorn" ]; then
    python3 -m venv "$venv"
    python3 -c 'import sys, tomllib; print("\n".join(tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]))' \
      "$BENCH_PEER_DIR/backend/pyproject.toml" >"$work/peer-requirements.txt"
    "$venv/bin/pip" install -q -r "$work/peer-requirements.txt" >"$work/pip.log" 2>&1 || { cat "$work/pip.log"; fail "cannot install the peer's dependencies"; }
  fi
  # A copy, so the checkout is never modified.
  cp -R "$BENCH_PEER_DIR/backend" "$work/peer"
  mkdir -p "$work/peer/app/frontend"  # the template serves its built frontend from here
  if ! "$venv/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 14))'; then
    # The template targets Python 3.14; for an older interpreter, rewrite its two 3.14-only
    # constructs (unparenthesised `except A, B:`, a forward reference in an annotation) into
    # their older spelling. Syntax only: the code that runs is the same.
    grep -rlE '^\s*except [A-Za-z_.]+, [A-Za-z_.]+:' "$work/peer/app" | xargs -r sed -i -E \
      's/^(\s*)except ([A-Za-z_.]+), ([A-Za-z_.]+):/\1except (\2, \3):/'
    sed -i -E 's/: list\[([A-Z][A-Za-z]*)\] = Relationship/: list["\1"] = Relationship/' "$work/peer/app/models.py"
  fi
  psql "$pg_admin" -qc "CREATE DATABASE \"$peer_database\"" >/dev/null
  peer_password="peer-$(head -c 12 /dev/urandom | base64 | tr -d '/+=')"
  peer_port="$(free_port)"
  # Only the peer's own settings: none of ours (SMTP_TLS, ...) may reach it.
  peer_env=(env -i PATH="$PATH" HOME="$HOME" PYTHONPATH="$work/peer" PROJECT_NAME=peer
    SECRET_KEY="$(head -c 32 /dev/urandom | base64)" FIRST_SUPERUSER=admin@example.com
    FIRST_SUPERUSER_PASSWORD="$peer_password"
    DATABASE_URL="$(printf '%s' "$pg_admin" | sed -E 's#/[^/]*$##')/$peer_database")
  (cd "$work/peer" && "${peer_env[@]}" "$venv/bin/alembic" upgrade head && "${peer_env[@]}" "$venv/bin/python" app/initial_data.py) \
    >"$work/peer-migrate.log" 2>&1 || { cat "$work/peer-migrate.log"; fail "cannot set up the peer's database"; }
  # No access log: our app runs at LOG_LEVEL=warn, which writes no line per request either.
  (cd "$work/peer" && exec "${peer_env[@]}" "$venv/bin/uvicorn" app.main:app --workers 2 --host 127.0.0.1 \
    --port "$peer_port" --no-access-log) >"$work/peer.log" 2>&1 &
  peer_pid=$!
  peer_base="http://127.0.0.1:$peer_port/api/v1"
  for _ in $(seq 1 150); do curl -fsS "$peer_base/utils/health-check/" >/dev/null 2>&1 && break; sleep 0.2; done
  peer_token="$(curl -fsS -X POST -d "username=admin@example.com&password=$peer_password" "$peer_base/login/access-token" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')" || { cat "$work/peer.log"; fail "cannot log in to the peer"; }
  peer_url="$peer_base/users/me"
fi
if [ -n "$peer_url" ]; then
  curl -fsS -H "Authorization: Bearer $peer_token" "$peer_url" >/dev/null || fail "the peer refused its token at $peer_url"
fi

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
: >"$work/bare.list"; : >"$work/live-cpu.list"; : >"$work/bare-cpu.list"
cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }
per_request_us() { # ticks_before ticks_after requests
  python3 -c "print(f'{($2 - $1) / $ticks_per_second * 1e6 / max($3, 1):.0f}')"
}
for round in $(seq 1 "$rounds"); do
  printf ' round %s (load average %s)\n' "$round" "$(cut -d' ' -f1 /proc/loadavg)"
  before=$(cpu_of "$bare_pid")
  load_get "$connections" "$seconds" "$bare_url" "$work/bare.out"
  after=$(cpu_of "$bare_pid")
  figures="$(wrk_figures "$work/bare.out")"; echo "$figures" >>"$work/bare.list"
  show "GET /health/live (bare axum)" "$figures"
  cpu_us=$(per_request_us "$before" "$after" "$(echo "$figures" | cut -d' ' -f4)")
  echo "$cpu_us" >>"$work/bare-cpu.list"
  printf '  %-34s %8s µs per request\n' "server CPU (bare axum)" "$cpu_us"

  before=$(cpu_ticks)
  load_get "$connections" "$seconds" "$base/health/live" "$work/live.out"
  after=$(cpu_ticks)
  figures="$(wrk_figures "$work/live.out")"; echo "$figures" >>"$work/live.list"
  show "GET /health/live" "$figures"
  cpu_us=$(per_request_us "$before" "$after" "$(echo "$figures" | cut -d' ' -f4)")
  echo "$cpu_us" >>"$work/live-cpu.list"
  printf '  %-34s %8s µs per request\n' "server CPU (/health/live)" "$cpu_us"

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

  if [ -n "$peer_url" ]; then
    load_get "$connections" "$seconds" "$peer_url" "$work/peer.out" "Authorization: Bearer $peer_token"
    figures="$(wrk_figures "$work/peer.out")"; echo "$figures" >>"$work/peer.list"
    show "peer users/me" "$figures"
  fi
done

median() { # file column
  python3 -c "import statistics,sys; print(f'{statistics.median(float(l.split()[$2]) for l in open(sys.argv[1]) if l.strip()):.2f}')" "$1"
}
say "medians over $rounds rounds"
printf '  %-34s %8.0f req/s   p50 %7s ms   p99 %7s ms\n' "GET /health/live (bare axum)" \
  "$(median "$work/bare.list" 0)" "$(median "$work/bare.list" 1)" "$(median "$work/bare.list" 2)"
printf '  %-34s %8.0f µs per request\n' "server CPU (bare axum)" "$(median "$work/bare-cpu.list" -1)"
printf '  %-34s %8.0f µs per request\n' "server CPU (/health/live)" "$(median "$work/live-cpu.list" -1)"
printf '  %-34s %8.0f req/s   p50 %7s ms   p99 %7s ms\n' "GET /health/live" \
  "$(median "$work/live.list" 0)" "$(median "$work/live.list" 1)" "$(median "$work/live.list" 2)"
printf '  %-34s %8.0f req/s   p50 %7s ms   p99 %7s ms\n' "GET auth/me" \
  "$(median "$work/me.list" 0)" "$(median "$work/me.list" 1)" "$(median "$work/me.list" 2)"
printf '  %-34s %8.0f µs per request\n' "server CPU (auth/me)" "$(median "$work/cpu.list" -1)"
printf 'ratio auth/me ÷ health/live: %.2f\n' \
  "$(echo "$(median "$work/me.list" 0) / $(median "$work/live.list" 0)" | bc -l)"
printf 'ratio /health/live ÷ bare axum: %.2f\n' \
  "$(echo "$(median "$work/live.list" 0) / $(median "$work/bare.list" 0)" | bc -l)"
if [ -s "$work/peer.list" ]; then
  printf '  %-34s %8.0f req/s   p50 %7s ms   p99 %7s ms\n' "peer users/me" \
    "$(median "$work/peer.list" 0)" "$(median "$work/peer.list" 1)" "$(median "$work/peer.list" 2)"
  printf 'ratio ours ÷ peer: %.2f\n' "$(echo "$(median "$work/me.list" 0) / $(median "$work/peer.list" 0)" | bc -l)"
else
  echo "peer: not present (BENCH_PEER_DIR: a checkout of the FastAPI full-stack template; or BENCH_PEER_URL + BENCH_PEER_TOKEN)"
fi
stop "$bare_pid"; bare_pid=""
stop "$peer_pid"; peer_pid=""

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

# --- profiles (BENCH_PROFILE=1, on an unstripped build): where the server's time goes
[ "${BENCH_PROFILE:-0}" = 1 ] || exit 0
command -v perf >/dev/null || fail "BENCH_PROFILE needs perf (apt-get install linux-perf)"
command -v valgrind >/dev/null || fail "BENCH_PROFILE needs valgrind (apt-get install valgrind)"
[ "${BENCH_UNSTRIPPED:-0}" = 1 ] || echo "  (the binary is stripped: set BENCH_UNSTRIPPED=1 for function names)"
frames="${BENCH_PROFILE_FRAMES:-30}"
for target in "auth/me|$base/api/v1/auth/me" "/health/live|$base/health/live"; do
  label="${target%%|*}"; url="${target#*|}"
  say "perf: $label, ${seconds}s at $connections connections, top $frames functions by own CPU time"
  perf record -q -e cpu-clock -F 1999 -g -p "$server_pid" -o "$work/perf.data" -- sleep "$seconds" 2>/dev/null &
  perf_pid=$!
  load_get "$connections" "$seconds" "$url" "$work/profiled.out" "Authorization: Bearer $token"
  wait "$perf_pid" || echo "  (perf record exited with status $?; its samples so far follow)"
  perf report -i "$work/perf.data" --no-children --sort dso,symbol --percent-limit 0.5 --stdio 2>/dev/null \
    | grep -E '^ +[0-9.]+%' | sed -n "1,${frames}p" | cut -c1-160
done

# Instructions per request, counted by callgrind (deterministic, unlike time), by component:
# each function's own instructions, summed over the functions whose name contains the
# component's marker (first match wins, in the order below). Async frames nest as cycles,
# so inclusive counts per layer would mislead; own counts add up. Extra components, listed
# first (e.g. a metrics layer): BENCH_PROFILE_LAYERS="name=substring …".
stop "$server_pid"; server_pid=""
(cd "$app_dir" && exec valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" "$binary" serve) \
  >"$work/callgrind-server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 600); do curl -fsS "$base/health/ready" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fsS "$base/health/ready" >/dev/null || { cat "$work/callgrind-server.log"; fail "the app did not start under callgrind"; }
for target in "auth/me|$base/api/v1/auth/me" "/health/live|$base/health/live"; do
  label="${target%%|*}"; url="${target#*|}"
  load_get 4 2 "$url" "$work/warm.out" "Authorization: Bearer $token"
  rm -f "$work"/callgrind.out.*
  callgrind_control -z "$server_pid" >/dev/null
  load_get 4 "$seconds" "$url" "$work/counted.out" "Authorization: Bearer $token"
  callgrind_control -d "$server_pid" >/dev/null
  sleep 1
  requests=$(wrk_figures "$work/counted.out" | cut -d' ' -f4)
  dump=$(find "$work" -maxdepth 1 -name 'callgrind.out.*' | sort | tail -n 1)
  callgrind_annotate --inclusive=no --auto=no --threshold=100 "$dump" >"$work/annotate.txt" 2>/dev/null
  say "callgrind: $label, instructions per request ($requests requests, 4 connections; no kernel time)"
  python3 - "$work/annotate.txt" "$requests" "$frames" "${BENCH_PROFILE_LAYERS:-}" <<'PY'
import re, sys
text, requests, top, extra = open(sys.argv[1]).read(), max(int(sys.argv[2]), 1), int(sys.argv[3]), sys.argv[4]
rows = []
for line in text.splitlines():
    match = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)", line)
    # Not the call lines of annotated source ("=> callee"), which carry inclusive counts.
    if match and "PROGRAM TOTALS" not in match.group(2) and not match.group(2).startswith("=>"):
        rows.append((int(match.group(1).replace(",", "")), match.group(2)))
program = re.search(r"([\d,]+) \(100.0%\)\s+PROGRAM TOTALS", text)
total = int(program.group(1).replace(",", "")) if program else sum(count for count, _ in rows)
# A dump taken from the running server lists the threads' root frames (thread start, the
# runtime's worker loop) with the whole thread's count: not own work, left out.
rows = [(count, name) for count, name in rows if count < 0.9 * total]
components = [tuple(a.split("=", 1)) for a in extra.split() if "=" in a] + [
    ("memory allocator (glibc malloc/free)", "malloc/"),
    ("memory copies (memcpy/memmove)", "memmove"),
    ("JWT: HMAC-SHA256", "sha2::"),
    ("JWT: decode, base64, claims", "jsonwebtoken::"),
    ("JWT: decode, base64, claims", "base64::"),
    ("our middleware: security headers", "middleware::security_headers"),
    ("our middleware: request id", "middleware::request_id"),
    ("our middleware: problem normaliser", "middleware::problem"),
    ("our code: connection loop", "::connections::"),
    ("our code: AppState clone/drop", "state::AppState"),
    ("our code: gate (extractor, token store, cache)", "::auth::"),
    ("rate limit (tower_governor, governor)", "governor"),
    ("tower-http layers", "tower_http::"),
    ("axum (router, from_fn, extractors)", "axum"),
    ("tower (boxed services, oneshot)", "tower::"),
    ("Redis client", "redis::"),
    ("sea-orm / sqlx", "sqlx"),
    ("sea-orm / sqlx", "sea_orm"),
    ("tracing", "tracing"),
    ("serde_json", "serde_json"),
    ("http headers (http crate)", "http::header"),
    ("hyper", "hyper"),
    ("tokio", "tokio"),
    ("libc (other)", "libc.so"),
]
sums, seen = {}, set()
for count, name in rows:
    for label, marker in components:
        if marker in name:
            sums[label] = sums.get(label, 0) + count
            break
    else:
        sums["other"] = sums.get("other", 0) + count
print(f"  {'total':46} {total / requests:9.0f}")
for label, count in sorted(sums.items(), key=lambda item: -item[1]):
    print(f"  {label:46} {count / requests:9.0f}  {100 * count / max(total, 1):5.1f}%")
print(f"  top {top} functions by own instructions:")
for count, name in rows[:top]:
    print(f"    {count / requests:8.0f}  {name[:130]}")
PY
done
