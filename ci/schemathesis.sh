#!/usr/bin/env bash
# Contract check of a generated project: schemathesis (`--checks all`) against the running app
# in dev with API docs on, against local Postgres and Redis — anonymous, as a user and as an
# admin, each with a fixed seed (reproducible) and then a short random run. Any failure fails.
#
# Usage: bash ci/schemathesis.sh PROJECT_DIR
# Env: CARGO_TARGET_DIR (where the project's debug build lives or goes),
#      SCHEMATHESIS_MAX_EXAMPLES (per operation, fixed-seed runs; default 40),
#      SCHEMATHESIS_RANDOM_EXAMPLES (per operation, random runs; default 15),
#      SCHEMATHESIS_SEED (default 20261201).
# schemathesis is installed (pinned) into ~/.cache/shaapi/schemathesis-venv on first use.
set -euo pipefail

project="$(cd "${1:?usage: schemathesis.sh PROJECT_DIR}" && pwd)"
repo="$(cd "$(dirname "$0")/.." && pwd)"
version=4.32.5
venv="$HOME/.cache/shaapi/schemathesis-venv"
max_examples="${SCHEMATHESIS_MAX_EXAMPLES:-40}"
random_examples="${SCHEMATHESIS_RANDOM_EXAMPLES:-15}"
seed="${SCHEMATHESIS_SEED:-20261201}"
pg_admin="${TEST_DATABASE_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
redis_url="${TEST_REDIS_URL:-redis://127.0.0.1:6379}"

fail() { printf 'schemathesis: %s\n' "$*" >&2; exit 1; }

if ! "$venv/bin/st" --version 2>/dev/null | grep -q "$version"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi
st="$venv/bin/st"

name="$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["package"]["name"])' "$project/Cargo.toml")"
cargo build --quiet --locked --manifest-path "$project/Cargo.toml" --bin "$name"
target_dir="$(cargo metadata --format-version 1 --no-deps --manifest-path "$project/Cargo.toml" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
binary="$target_dir/debug/$name"

work="$(mktemp -d)"
run_id="$(date +%s)$$"
database="schemathesis_${run_id}"
prefix="schemathesis-${run_id}:"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  psql "$pg_admin" -qc "DROP DATABASE IF EXISTS \"$database\" WITH (FORCE)" >/dev/null 2>&1 || true
  redis-cli -u "$redis_url" --scan --pattern "${prefix}*" | xargs -r redis-cli -u "$redis_url" del >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

psql "$pg_admin" -qc "CREATE DATABASE \"$database\"" >/dev/null
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
# Dev (migrates on start, docs on) with the limits lifted: the runs must reach the handlers,
# not the rate limiter (429 is documented, but would hide everything behind it).
app_env=(
  env -i "PATH=$PATH" "HOME=$HOME" ENVIRONMENT=dev API_DOCS=true HOST=127.0.0.1 PORT="$port"
  DATABASE_URL="$(printf '%s' "$pg_admin" | sed -E 's#/[^/]*$##')/$database"
  REDIS_URL="$redis_url" REDIS_KEY_PREFIX="$prefix" DATA_DIR="$work/data"
  STORAGE_URL="file://$work/storage" LOG_LEVEL=warn METRICS_ADDRESS=127.0.0.1:0
  RATE_LIMIT_PER_SECOND=1000000 RATE_LIMIT_BURST=1000000
  AUTH_RATE_LIMIT_PER_MINUTE=100000000 AUTH_RATE_LIMIT_BURST=1000000
  LOGIN_MAX_ATTEMPTS_PER_IP=100000000 LOGIN_MAX_ATTEMPTS_PER_ACCOUNT=100000000
)
(cd "$work" && exec "${app_env[@]}" "$binary" serve >"$work/server.log" 2>&1) &
server_pid=$!
for _ in $(seq 1 200); do
  curl -fsS "$base/health/ready" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "$base/health/ready" >/dev/null || { cat "$work/server.log"; fail "the app did not become ready"; }

password="orchid-kettle-basalt-$run_id"
user_email="st-user-${run_id}@example.com"
admin_email="st-admin-${run_id}@example.com"
credentials() { printf '{"email":"%s","password":"%s"}' "$1" "$password"; }
curl -fsS -X POST -H 'content-type: application/json' -d "$(credentials "$user_email")" \
  "$base/api/v1/auth/register" >/dev/null
printf '%s\n' "$password" | (cd "$work" && "${app_env[@]}" "$binary" auth init \
  --email "$admin_email" --password-stdin >/dev/null)
token() {
  curl -fsS -X POST -H 'content-type: application/json' -d "$(credentials "$1")" \
    "$base/api/v1/auth/login" | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}
user_token="$(token "$user_email")"
admin_token="$(token "$admin_email")"

status=0
# run LABEL EXAMPLES SEED_ARGS… -- ST_ARGS…
run() {
  local label=$1 examples=$2; shift 2
  local started; started=$(date +%s)
  echo "--- schemathesis: $label"
  if "$st" --config-file "$repo/ci/schemathesis.toml" --no-color run "$base/api/v1/openapi.json" \
      --url "$base" --checks all --workers 1 --max-examples "$examples" --warnings off \
      "$@" >"$work/run.log" 2>&1; then
    grep -E 'generated|^Seed|No issues' "$work/run.log" || true
  else
    cat "$work/run.log"
    status=1
  fi
  echo "--- $label: $(( $(date +%s) - started ))s"
}
# Logging out (or out everywhere) would end the session the run authenticates with; those
# routes are fuzzed anonymously, where they must answer 401. Every other route is in every run.
session_enders='/auth/logout'
for who in anonymous user admin; do
  auth=()
  case $who in
    user) auth=(--exclude-path-regex "$session_enders" -H "Authorization: Bearer $user_token") ;;
    admin) auth=(--exclude-path-regex "$session_enders" -H "Authorization: Bearer $admin_token") ;;
  esac
  run "$who, seed $seed" "$max_examples" --seed "$seed" "${auth[@]+"${auth[@]}"}"
  run "$who, random" "$random_examples" "${auth[@]+"${auth[@]}"}"
done
kill -0 "$server_pid" 2>/dev/null || { tail -n 30 "$work/server.log"; fail "the app died"; }
if grep -q 'panicked' "$work/server.log"; then
  grep -m 5 'panicked' "$work/server.log"
  fail "the app panicked during the runs"
fi
exit "$status"
