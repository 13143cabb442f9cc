#!/usr/bin/env bash
# Static checks of a generated project's container and production artifacts (issue 6):
#   - every shell script: bash -n and shellcheck;
#   - the Dockerfile: hadolint, plus structure (multi-stage, cargo-chef, numeric non-root USER,
#     HEALTHCHECK through the app, OCI labels) by ci/check_prod_files.py;
#   - compose files, .dockerignore and deploy/Caddyfile parsed and checked by the same script;
#   - compose-lint (an independent linter) passes at --fail-on high on the base and prod files;
#   - deploy/harden-os.sh --check-only really flags a datastore port listening publicly.
# Tools missing on the machine are installed by ci/install-linters.sh. Usage: ci/check-prod-artifacts.sh PROJECT_DIR
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
project=$(cd "${1:?usage: check-prod-artifacts.sh PROJECT_DIR}" && pwd)
failures=0
fail() { echo "check-prod-artifacts: $*" >&2; failures=$((failures + 1)); }

bash "$root/ci/install-linters.sh" >/dev/null
prod=false
[ -f "$project/compose.prod.yaml" ] && prod=true

# Shell scripts, wherever they are (target/ and .git/ excluded).
scripts=()
while IFS= read -r -d '' script; do scripts+=("$script"); done < <(
  find "$project" \( -path "$project/target" -o -path "$project/.git" \) -prune -o -name '*.sh' -type f -print0)
for script in "${scripts[@]}"; do
  bash -n "$script" || fail "bash -n rejects ${script#"$project"/}"
  shellcheck --external-sources "$script" || fail "shellcheck rejects ${script#"$project"/}"
done
echo "check-prod-artifacts: ${#scripts[@]} shell script(s) checked"

hadolint "$project/Dockerfile" || fail "hadolint rejects the Dockerfile"
python3 "$root/ci/check_prod_files.py" "$project" || fail "container/deploy files do not hold their promises"

# Compose itself (when installed: ci/docker.sh) must accept every combination the docs give;
# its validation is stricter than a YAML parse (duplicate security_opt items, pids limits…).
if docker compose version >/dev/null 2>&1; then
  compose_env=(env POSTGRES_PASSWORD=validation-only REDIS_PASSWORD=validation-only)
  (cd "$project" && "${compose_env[@]}" docker compose config -q) || fail "docker compose rejects compose.yaml + compose.override.yaml"
  if [ "$prod" = true ]; then
    (cd "$project" && "${compose_env[@]}" docker compose -f compose.yaml -f compose.prod.yaml config -q) \
      || fail "docker compose rejects compose.yaml + compose.prod.yaml"
  fi
  if [ -f "$project/compose.monitoring.yaml" ]; then
    monitoring_env=("${compose_env[@]}" METRICS_TOKEN=validation-only GRAFANA_ADMIN_PASSWORD=validation-only
      GRAFANA_SECRET_KEY=validation-only)
    (cd "$project" && "${monitoring_env[@]}" docker compose -f compose.yaml -f compose.override.yaml \
      -f compose.monitoring.yaml config -q) || fail "docker compose rejects the dev stack + compose.monitoring.yaml"
    if [ "$prod" = true ]; then
      (cd "$project" && "${monitoring_env[@]}" docker compose -f compose.yaml -f compose.prod.yaml \
        -f compose.monitoring.yaml config -q) || fail "docker compose rejects the prod stack + compose.monitoring.yaml"
    fi
  fi
fi

# compose-lint lints a base file together with the override compose would merge beside it.
(cd "$project" && compose-lint check -q --fail-on high compose.yaml) || fail "compose-lint: compose.yaml"
if [ -f "$project/compose.monitoring.yaml" ]; then
  (cd "$project" && compose-lint check -q --fail-on high --no-merge-overrides compose.monitoring.yaml) \
    || fail "compose-lint: compose.monitoring.yaml"
fi
if [ "$prod" = true ]; then
  (cd "$project" && compose-lint check -q --fail-on high --no-merge-overrides compose.prod.yaml) \
    || fail "compose-lint: compose.prod.yaml"

  # The exposure check must catch a datastore port on all interfaces: open one, expect failure.
  port=27017
  if ss -H -ltn "sport = :$port" | grep -q .; then
    fail "port $port is already in use here; cannot exercise harden-os.sh --check-only"
  else
    python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(); time.sleep(30)' "$port" &
    listener=$!
    for _ in $(seq 50); do ss -H -ltn "sport = :$port" | grep -q . && break; sleep 0.1; done
    if output=$(bash "$project/deploy/harden-os.sh" --check-only 2>&1); then
      fail "harden-os.sh --check-only passed while 0.0.0.0:$port listened"
    elif ! grep -q "0.0.0.0:$port" <<<"$output"; then
      fail "harden-os.sh --check-only failed without naming 0.0.0.0:$port: $output"
    fi
    kill "$listener" 2>/dev/null || true
    wait "$listener" 2>/dev/null || true
  fi
  bash "$project/deploy/harden-os.sh" --ssh-port not-a-port >/dev/null 2>&1 \
    && fail "harden-os.sh accepted --ssh-port not-a-port"
fi

if [ "$failures" -gt 0 ]; then
  echo "check-prod-artifacts: $failures problem(s) in $project" >&2
  exit 1
fi
echo "check-prod-artifacts: $project passes (prod artifacts: $prod)"
