#!/usr/bin/env bash
# The monitoring stack of a generated project (monitoring toggle, issue 13 §3), checked offline:
#   - promtool check config (on a copy whose token file exists) and check rules;
#   - promtool test rules: monitoring/prometheus/alerts_test.yml proves each alert fires;
#   - every metric name the Grafana dashboard and the alert rules use is in the app's /metrics:
#     the app is built and started against local Postgres and Redis with its metrics listener on
#     a free loopback port behind a token, driven with a few requests, then scraped the way
#     Prometheus does (bearer token), and ci/metric_names.py compares the names.
# The compose overlay itself is checked by ci/check-prod-artifacts.sh (structure, compose-lint).
# promtool comes from Debian's `prometheus` package, installed here when missing.
# Usage: ci/check-monitoring.sh PROJECT_DIR [--static]   (--static: promtool checks only)
# Env: CARGO_TARGET_DIR, TEST_DATABASE_ADMIN_URL, TEST_REDIS_URL as for the project's tests.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
project=$(cd "${1:?usage: check-monitoring.sh PROJECT_DIR [--static]}" && pwd)
mode=${2:-full}
monitoring=$project/monitoring
fail() { echo "check-monitoring: $*" >&2; exit 1; }
[ -f "$monitoring/prometheus/prometheus.yml" ] || fail "no monitoring/prometheus/prometheus.yml in $project"

apt_packages=()
command -v promtool >/dev/null || apt_packages+=(prometheus)
command -v prometheus-node-exporter >/dev/null || apt_packages+=(prometheus-node-exporter)
if [ "${#apt_packages[@]}" -gt 0 ]; then
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/shaapi-monitoring.XXXXXX")
server_pid=""
exporter_pid=""
database=""
pg_admin=${TEST_DATABASE_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
redis_url=${TEST_REDIS_URL:-redis://127.0.0.1:6379}
prefix="check-monitoring-$(date +%s)$$:"
cleanup() {
  for pid in "$server_pid" "$exporter_pid"; do
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  done
  if [ -n "$database" ]; then
    psql "$pg_admin" -qc "DROP DATABASE IF EXISTS \"$database\" WITH (FORCE)" >/dev/null 2>&1 || true
    redis-cli -u "$redis_url" --scan --pattern "${prefix}*" | xargs -r redis-cli -u "$redis_url" del >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# The config names the token file compose mounts (/run/secrets/…); promtool checks that files
# exist, so the full check runs on a copy pointing at a token file of this run.
cp -r "$monitoring/prometheus" "$work/prometheus"
printf 'token-for-promtool\n' >"$work/metrics_token"
sed -i "s#credentials_file: /run/secrets/metrics_token#credentials_file: $work/metrics_token#" "$work/prometheus/prometheus.yml"
grep -q "credentials_file: $work/metrics_token" "$work/prometheus/prometheus.yml" \
  || fail "prometheus.yml does not read the token from /run/secrets/metrics_token"
promtool check config "$work/prometheus/prometheus.yml" >/dev/null || fail "promtool check config rejects prometheus.yml"
promtool check rules "$monitoring/prometheus/alerts.yml" >/dev/null || fail "promtool check rules rejects alerts.yml"
(cd "$monitoring/prometheus" && promtool test rules alerts_test.yml >/dev/null) \
  || fail "promtool test rules: an alert does not behave as alerts_test.yml expects (rerun it to see which)"
echo "check-monitoring: promtool accepts the config and rules; every alert test passes"
[ "$mode" = --static ] && exit 0

# --- the names against the running app ------------------------------------------------------
name=$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["package"]["name"])' "$project/Cargo.toml")
cargo build --quiet --locked --manifest-path "$project/Cargo.toml" --bin "$name"
target_dir=$(cargo metadata --format-version 1 --no-deps --manifest-path "$project/Cargo.toml" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
binary=$target_dir/debug/$name

database="check_monitoring_$(date +%s)$$"
psql "$pg_admin" -qc "CREATE DATABASE \"$database\"" >/dev/null
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
metrics_port=$(free_port)
token=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
base=http://127.0.0.1:$port
(cd "$work" && exec env -i "PATH=$PATH" "HOME=$HOME" ENVIRONMENT=dev HOST=127.0.0.1 PORT="$port" \
  DATABASE_URL="$(printf '%s' "$pg_admin" | sed -E 's#/[^/]*$##')/$database" \
  REDIS_URL="$redis_url" REDIS_KEY_PREFIX="$prefix" DATA_DIR="$work/data" \
  STORAGE_URL="file://$work/storage" LOG_LEVEL=warn \
  METRICS_ADDRESS="127.0.0.1:$metrics_port" METRICS_TOKEN="$token" \
  "$binary" serve >"$work/server.log" 2>&1) &
server_pid=$!
for _ in $(seq 1 300); do
  curl -fsS "$base/health/ready" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
curl -fsS "$base/health/ready" >/dev/null 2>&1 || { cat "$work/server.log" >&2; fail "the app did not become ready"; }

# A little of everything the dashboard shows: answers of each class, a failed login, a refused token.
curl -sS -o /dev/null "$base/health/live"
curl -sS -o /dev/null "$base/no-such-route-$$"
curl -sS -o /dev/null -X POST -H 'content-type: application/json' \
  -d '{"email":"nobody@example.com","password":"not-the-password-1234"}' "$base/api/v1/auth/login"
curl -sS -o /dev/null "$base/api/v1/auth/me"
curl -sS -o /dev/null -H 'authorization: Bearer not.a.jwt' "$base/api/v1/auth/me"

metrics_url=http://127.0.0.1:$metrics_port/metrics
status=$(curl -s -o /dev/null -w '%{http_code}' "$metrics_url" || true)
[ "$status" != 200 ] || fail "the metrics listener answered 200 without the token"
curl -fsS -H "authorization: Bearer $token" "$metrics_url" >"$work/exposition.txt" \
  || { cat "$work/server.log" >&2; fail "GET $metrics_url with the token failed (is METRICS_ADDRESS served?)"; }
expositions=("$work/exposition.txt")

# With the prod toggle, the backup alerts read deploy/backup.sh's backup.prom through
# node-exporter's textfile collector (compose service backup-metrics): the same here, for real,
# on an archive of the app's database.
if [ -f "$project/deploy/backup.sh" ]; then
  pg_url=$(printf '%s' "$pg_admin" | sed -E 's#/[^/]*$##')/$database
  env BACKUP_DIR="$work/backups" PGDATABASE="$database" \
    PGHOST="$(python3 -c 'import sys, urllib.parse as u; print(u.urlsplit(sys.argv[1]).hostname or "127.0.0.1")' "$pg_url")" \
    PGPORT="$(python3 -c 'import sys, urllib.parse as u; print(u.urlsplit(sys.argv[1]).port or 5432)' "$pg_url")" \
    PGUSER="$(python3 -c 'import sys, urllib.parse as u; print(u.urlsplit(sys.argv[1]).username or "postgres")' "$pg_url")" \
    bash "$project/deploy/backup.sh" once >"$work/backup.log" 2>&1 || { cat "$work/backup.log" >&2; fail "deploy/backup.sh once failed"; }
  exporter_port=$(free_port)
  prometheus-node-exporter --collector.disable-defaults --collector.textfile \
    --collector.textfile.directory="$work/backups" --web.listen-address="127.0.0.1:$exporter_port" \
    >"$work/exporter.log" 2>&1 &
  exporter_pid=$!
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$exporter_port/metrics" >"$work/backup-exposition.txt" 2>/dev/null && break
    sleep 0.1
  done
  grep -q '^backup_last_success_timestamp_seconds' "$work/backup-exposition.txt" \
    || { cat "$work/exporter.log" >&2; fail "the textfile exporter does not serve backup.prom"; }
  expositions+=("$work/backup-exposition.txt")
fi
python3 "$root/ci/metric_names.py" --exposition "${expositions[@]}" \
  --dashboard "$monitoring"/grafana/dashboards/*.json --rules "$monitoring/prometheus/alerts.yml"
