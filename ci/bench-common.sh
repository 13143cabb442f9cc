#!/usr/bin/env bash
# Shared start of the benchmarks that run a generated app against local Postgres and Redis.
# Sourced, after the caller set `bench_name`, `pg_admin` and `redis_url`: checks the tools and
# servers, finds cargo-generate, and gives the run its work folder, database and Redis prefix,
# all removed on exit (KEEP=1 keeps the folder). The caller sets `server_pid` once it starts one.
# shellcheck disable=SC2034,SC2154 # set here for the caller, or by it
say() { printf '\n== %s\n' "$*"; }
fail() { printf 'bench-%s: %s\n' "$bench_name" "$*" >&2; exit 1; }

for program in curl psql redis-cli python3; do
  command -v "$program" >/dev/null || fail "$program is needed"
done
psql "$pg_admin" -qAtc 'select 1' >/dev/null || fail "Postgres does not answer at $pg_admin"
redis-cli -u "$redis_url" ping >/dev/null || fail "Redis does not answer at $redis_url"
generator="$(command -v cargo-generate || true)"
[ -n "$generator" ] || generator="$HOME/.cache/shaapi/tools/bin/cargo-generate"
[ -x "$generator" ] || fail "cargo-generate not found (bash ci/cargo-generate.sh installs it)"

work="$(mktemp -d)"
run_id="$(date +%s)$$"
database="bench_${bench_name}_${run_id}"
prefix="bench-${bench_name}-${run_id}:"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  psql "$pg_admin" -qc "DROP DATABASE IF EXISTS \"$database\" WITH (FORCE)" >/dev/null 2>&1 || true
  redis-cli -u "$redis_url" --scan --pattern "${prefix}*" | xargs -r redis-cli -u "$redis_url" del >/dev/null 2>&1 || true
  [ "${KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT
