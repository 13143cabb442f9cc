#!/usr/bin/env bash
# The generated project's containers, run for real (issue 9): the image built from its own
# Dockerfile, the dev stack (compose.yaml + compose.override.yaml) and the prod stack
# (compose.yaml + compose.prod.yaml) started by following deploy/README.md's commands literally.
#
#   ci/test-stack.sh PROJECT_DIR [SHASEC_BIN]
#
# Proves: /health/ready 200 through the published port (dev); migrate completes, the api turns
# healthy, `auth init --password-stdin` through `compose run`, register, the verification mail
# delivered over STARTTLS to a real SMTP server, verify-email, login / me (prod);
# from `docker compose ps` and `docker inspect`: no datastore port published, the api bound to
# 127.0.0.1 only, every process non-root with no capability and no-new-privileges, read-only
# root filesystems, memory limits; `shasec probe` (when SHASEC_BIN is given): no finding at
# medium or above, and the ports family finds the datastores closed on the host; fault drills
# (postgres, redis, a weak JWT_SECRET); a backup on demand restored into a fresh database; and
# `down -v` leaving nothing. Prints the image size and the seconds to healthy.
# The operator's part the guide leaves to them, played here: their edit of .env (PUBLIC_URL and
# the SMTP relay) and the relay itself, an aiosmtpd container added by ci/compose.smtp-sink.yaml
# once the guide's stack is up (nothing of it enters the product files).
# Environment: STACK_API_PORT (default: a free port in 18500-18599), STACK_KEEP=1 keeps the
# stacks running on failure, STACK_STEP_LIMIT (default 600) bounds each command of the guide,
# STACK_BUILD_LIMIT (default 3600) the image build.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source_project=$(cd "${1:?usage: test-stack.sh PROJECT_DIR [SHASEC_BIN]}" && pwd)
shasec=${2:-}
name=$(sed -n 's/^name = "\(.*\)"$/\1/p' "$source_project/Cargo.toml" | head -1)
[ -n "$name" ] || { echo "test-stack: no package name in $source_project/Cargo.toml" >&2; exit 2; }
image=$name:local
dev_project=shaapi-test-dev
prod_project=shaapi-test-prod

say() { echo "test-stack: $*"; }
current_project=""
current_files=()
dc() { docker compose -p "$current_project" "${current_files[@]}" "$@"; }
fail() {
  echo "test-stack: FAIL: $*" >&2
  if [ -n "$current_project" ]; then
    echo "--- docker compose ps -a" >&2
    dc ps -a >&2 2>&1 || true
    echo "--- last log lines" >&2
    dc logs --no-color --tail 25 >&2 2>&1 || true
  fi
  exit 1
}

# A free TCP port on 127.0.0.1 in 18500-18599, or the one asked for if it is free.
port_taken() { ss -H -ltn "sport = :$1" | grep -q .; }
free_port() {
  local port
  for port in $(seq "${1:-18500}" 18599); do
    port_taken "$port" || { echo "$port"; return 0; }
  done
  echo "test-stack: no free port in 18500-18599" >&2
  return 1
}
if [ -n "${STACK_API_PORT:-}" ]; then
  port_taken "$STACK_API_PORT" && { echo "test-stack: port $STACK_API_PORT (STACK_API_PORT) is already taken: $(ss -H -ltnp "sport = :$STACK_API_PORT" | head -1)" >&2; exit 2; }
  api_port=$STACK_API_PORT
else
  api_port=$(free_port 18500)
fi
base_url=http://127.0.0.1:$api_port

# wait_until SECONDS WHAT COMMAND… — bounded wait; on timeout fail with the logs.
wait_until() {
  local limit=$1 what=$2; shift 2
  local deadline=$(( $(date +%s) + limit ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "$what: not within ${limit}s"
    sleep 1
  done
}
status_of() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" || true; }
expect_status() { # EXPECTED WHAT CURL-ARGS…
  local expected=$1 what=$2; shift 2
  local got; got=$(status_of "$@")
  [ "$got" = "$expected" ] || fail "$what: expected HTTP $expected, got $got"
}
container_of() { dc ps -a -q "$1" | head -1; }
health_of() { docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$(container_of "$1")"; }
healthy() { [ "$(health_of "$1")" = healthy ]; }

bash "$root/ci/docker.sh"
bash "$root/ci/base-images.sh" "$source_project"

work=$(mktemp -d "${TMPDIR:-/tmp}/shaapi-stack.XXXXXX")
caddy_pid=""
cleanup() {
  local code=$?
  [ -z "$caddy_pid" ] || kill "$caddy_pid" 2>/dev/null || true
  if [ "$code" -ne 0 ] && [ "${STACK_KEEP:-0}" = 1 ]; then
    say "kept for inspection: $work (projects $dev_project, $prod_project)"
    return
  fi
  for project in "$dev_project" "$prod_project"; do
    (cd "$work/project" 2>/dev/null && docker compose -p "$project" -f compose.yaml -f compose.prod.yaml \
      down -v --remove-orphans >/dev/null 2>&1) || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
# A copy: .env, backups and the stacks' state never touch the project under test.
mkdir -p "$work/project"
tar -C "$source_project" --exclude=./target --exclude=./.env --exclude=./backups -cf - . | tar -C "$work/project" -xf -
cd "$work/project"

# --- the image ------------------------------------------------------------------------------
t0=$(date +%s)
say "building $image from the project's Dockerfile (docker compose build api, as the guide does)"
# The same builder (BuildKit, through compose) as the guide's build step below, so that step and
# ci/test-swarm.sh reuse this layer cache. The passwords only satisfy compose's interpolation.
build_limit=${STACK_BUILD_LIMIT:-3600}
if ! POSTGRES_PASSWORD=build-only REDIS_PASSWORD=build-only timeout "$build_limit" \
    docker compose --progress plain -p "$dev_project" -f compose.yaml -f compose.prod.yaml build api >"$work/build.log" 2>&1; then
  tail -n 40 "$work/build.log" >&2
  fail "the image does not build, or not within ${build_limit}s (last lines above)"
fi
build_seconds=$(( $(date +%s) - t0 ))
image_size=$(docker image inspect -f '{{.Size}}' "$image")
say "image $image: $(( image_size / 1000 / 1000 )) MB, built in ${build_seconds}s"

# --- dev stack -------------------------------------------------------------------------------
current_project=$dev_project
current_files=()
pg_port=$(free_port $((api_port + 1)))
redis_port=$(free_port $((pg_port + 1)))
printf 'POSTGRES_PASSWORD=%s\nREDIS_PASSWORD=%s\n' "$(openssl rand -hex 24)" "$(openssl rand -hex 24)" >.env
t0=$(date +%s)
API_HOST_PORT=$api_port POSTGRES_HOST_PORT=$pg_port REDIS_HOST_PORT=$redis_port dc up -d --wait \
  >"$work/dev-up.log" 2>&1 || { cat "$work/dev-up.log" >&2; fail "dev stack: up --wait"; }
wait_until 60 "dev: /health/ready 200 on $base_url" sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $base_url/health/ready)\" = 200 ]"
say "ok: dev stack /health/ready 200 through 127.0.0.1:$api_port ($(( $(date +%s) - t0 ))s to healthy)"
API_HOST_PORT=$api_port POSTGRES_HOST_PORT=$pg_port REDIS_HOST_PORT=$redis_port dc down -v --remove-orphans >/dev/null 2>&1
rm -f .env

# --- prod stack: deploy/README.md, section 2, command by command -------------------------------
current_project=$prod_project
current_files=(-f compose.yaml -f compose.prod.yaml)
export COMPOSE_PROJECT_NAME=$prod_project API_HOST_PORT=$api_port
admin_email=admin@your-domain.tld
admin_password=$(openssl rand -hex 16)
printf '%s\n' "$admin_password" >admin-password.txt
# What the guide asks the operator to edit in .env by hand: the front-end's https address and the
# mail relay (smtp-sink on the stack's network, STARTTLS on 587: SMTP_PORT and SMTP_TLS keep their
# defaults). The example must still offer these settings empty, for the operator to fill in.
operator_edits_env() {
  local setting
  for setting in PUBLIC_URL SMTP_HOST; do
    grep -q "^$setting=\$" .env || fail ".env.prod.example no longer has an empty $setting= for the operator to fill in"
  done
  sed -i -e 's|^PUBLIC_URL=$|PUBLIC_URL=https://app.stack-test.internal|' -e 's|^SMTP_HOST=$|SMTP_HOST=smtp-sink|' .env
  say "operator: .env edited (PUBLIC_URL, SMTP_HOST=smtp-sink)"
}
# The guide's commands between "# 2." and "# 3.", joined across trailing backslashes.
guide=$(awk '/^# 2\./ {on=1; next} /^# 3\./ {on=0} on' deploy/README.md | sed '/^#/d; /^$/d')
[ -n "$guide" ] || fail "deploy/README.md has no section 2 commands"
sed -n 1p <<<"$guide" | grep -q 'cp .env.prod.example .env' || fail "the guide no longer starts with cp .env.prod.example .env"
guide_step_limit=${STACK_STEP_LIMIT:-600}
t0=$(date +%s)
healthy_seconds=""
while IFS= read -r command; do
  say "guide \$ $command"
  # The guide builds through compose; a BuildKit-less engine builds the same Dockerfile classic.
  # Bounded: `up --wait` alone waits as long as the slowest healthcheck allows.
  if ! timeout "$guide_step_limit" bash -euo pipefail -c "$command" >"$work/guide.log" 2>&1; then
    tail -n 40 "$work/guide.log" >&2
    fail "deploy/README.md: \`$command\` failed or did not finish within ${guide_step_limit}s"
  fi
  case "$command" in
    "cp .env.prod.example .env") operator_edits_env ;;
    *"up -d"*) healthy_seconds=$(( $(date +%s) - t0 )) ;;
    *build*) t0=$(date +%s) ;;
  esac
done < <(sed -e ':a' -e '/\\$/N; s/\\\n *//; ta' <<<"$guide")
[ -n "$healthy_seconds" ] || fail "the guide never starts the stack"
say "ok: deploy/README.md followed literally: stack up and healthy ${healthy_seconds}s after the build"

# migrate completed, the api is healthy.
migrate=$(container_of migrate)
[ "$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$migrate")" = "exited 0" ] \
  || fail "migrate did not complete: $(docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$migrate")"
healthy api || fail "the api is $(health_of api)"
say "ok: migrate exited 0, api healthy"

# The operator's mail relay joins: a real SMTP server requiring STARTTLS, its certificate trusted
# through SMTP_CA_FILE (ci/compose.smtp-sink.yaml); the api is recreated with it.
sink_certs=$work/smtp-sink-certs
mkdir -p "$sink_certs"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=smtp-sink \
  -keyout "$sink_certs/smtp-sink.key" -out "$sink_certs/smtp-sink.crt" \
  -addext subjectAltName=DNS:smtp-sink -addext basicConstraints=critical,CA:FALSE >/dev/null 2>&1 \
  || fail "openssl could not make the relay's certificate"
# Read by the relay's uid 65534 inside its container; a throw-away key of this run.
chmod 0644 "$sink_certs/smtp-sink.key"
export SMTP_SINK_CERTS=$sink_certs
current_files+=(-f "$root/ci/compose.smtp-sink.yaml")
dc up -d --wait >"$work/sink-up.log" 2>&1 || { cat "$work/sink-up.log" >&2; fail "the stack with the SMTP relay: up --wait"; }
say "ok: SMTP relay (aiosmtpd, STARTTLS required) up; api recreated with SMTP_CA_FILE"

# register, the mailed link, verify-email, login / me through 127.0.0.1.
api=$base_url/api/v1
email=user-$RANDOM@example.test
password=$(openssl rand -hex 16)
body=$(printf '{"email":"%s","password":"%s"}' "$email" "$password")
expect_status 201 "register" -X POST -H 'content-type: application/json' -d "$body" "$api/auth/register"
login() { curl -s --max-time 5 -X POST -H 'content-type: application/json' -d "$1" "$api/auth/login"; }
expect_status 403 "login before the address is verified (prod requires it)" \
  -X POST -H 'content-type: application/json' -d "$body" "$api/auth/login"
# The token of the newest mail to ADDRESS in the relay's Maildir, decoded as a mail client would.
mailed_token() {
  dc exec -T smtp-sink python3 - "$1" <<'PY'
import email, email.policy, pathlib, re, sys
found = None
for path in sorted(pathlib.Path("/mail/inbox").glob("*/*"), key=lambda p: p.stat().st_mtime):
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    if sys.argv[1] in str(message["To"]):
        text = message.get_body(preferencelist=("plain",)).get_content()
        match = re.search(r"/verify-email#token=([A-Za-z0-9_-]+)", text)
        found = match and match.group(1)
if not found:
    sys.exit(1)
print(found)
PY
}
wait_until 30 "the verification mail to $email reaches the relay" mailed_token "$email"
link_token=$(mailed_token "$email")
expect_status 204 "verify-email with the mailed token" -X POST -H 'content-type: application/json' \
  -d "$(printf '{"token":"%s"}' "$link_token")" "$api/auth/verify-email"
say "ok: register 201, login 403 until verified, the mail reached the relay over STARTTLS, verify-email 204"
token=$(login "$body" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])') \
  || fail "login did not answer an access token"
expect_status 200 "me" -H "authorization: Bearer $token" "$api/auth/me"
admin_body=$(printf '{"email":"%s","password":"%s"}' "$admin_email" "$admin_password")
admin_token=$(login "$admin_body" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])') \
  || fail "the administrator made by auth init cannot log in"
expect_status 200 "me (administrator)" -H "authorization: Bearer $admin_token" "$api/auth/me"
say "ok: auth init admin logs in; login / me through 127.0.0.1"

# --- what docker says about the running containers ------------------------------------------------
mapfile -t running < <(dc ps -q)
[ "${#running[@]}" -ge 5 ] || fail "expected api, postgres, redis, backup and smtp-sink running, got ${#running[@]}"
for id in "${running[@]}" "$migrate"; do
  service=$(docker inspect -f '{{index .Config.Labels "com.docker.compose.service"}}' "$id")
  read -r readonly memory nnp capdrop user <<<"$(docker inspect -f \
    '{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.Memory}} {{range .HostConfig.SecurityOpt}}{{.}}{{end}} {{.HostConfig.CapDrop}} {{.Config.User}}' "$id")"
  [ "$readonly" = true ] || fail "$service: root filesystem is writable"
  [ "$memory" -gt 0 ] || fail "$service: no memory limit"
  [ "$nnp" = "no-new-privileges:true" ] || fail "$service: no-new-privileges is not set ($nnp)"
  [ "$capdrop" = "[ALL]" ] || fail "$service: capabilities not all dropped ($capdrop)"
  bindings=$(docker inspect -f '{{range $p, $b := .HostConfig.PortBindings}}{{range $b}}{{.HostIp}}:{{.HostPort}} {{end}}{{end}}' "$id")
  case "$service" in
    api)
      [ -n "$bindings" ] || fail "api publishes no port"
      for binding in $bindings; do
        [ "${binding%%:*}" = 127.0.0.1 ] || fail "api published on $binding, not 127.0.0.1 only"
      done ;;
    *) [ -z "$bindings" ] || fail "$service publishes $bindings" ;;
  esac
  if [ "$id" = "$migrate" ]; then
    [ -n "$user" ] && [ "$user" != 0 ] && [ "${user%%:*}" != root ] || fail "migrate ran as root"
  else
    # The process itself, as the kernel sees it: uid, capabilities, no_new_privs.
    pid=$(docker inspect -f '{{.State.Pid}}' "$id")
    uid=$(awk '/^Uid:/ {print $3}' "/proc/$pid/status")
    capeff=$(awk '/^CapEff:/ {print $2}' "/proc/$pid/status")
    nnp_kernel=$(awk '/^NoNewPrivs:/ {print $2}' "/proc/$pid/status")
    [ "$uid" != 0 ] || fail "$service runs as root (uid 0)"
    [ "$capeff" = 0000000000000000 ] || fail "$service has effective capabilities $capeff"
    [ "$nnp_kernel" = 1 ] || fail "$service: the kernel does not enforce no_new_privs"
    say "ok: $service: uid $uid, no capability, no-new-privileges, read-only rootfs, memory limit $((memory / 1024 / 1024))M${bindings:+, published on $bindings}"
  fi
done
# The published-port view of compose itself.
dc ps --format '{{.Service}} {{.Ports}}' | grep -v '^api ' | grep -q -- '->' && fail "a datastore port is published: $(dc ps --format '{{.Service}} {{.Ports}}')"
# 127.0.0.1 only: the api does not answer on the host's other addresses.
host_address=$(ip -4 -o addr show docker0 | awk '{print $4}' | cut -d/ -f1 | head -1)
[ -n "$host_address" ] || fail "cannot find the host's docker0 address"

[ "$(status_of "http://$host_address:$api_port/health/live")" = 000 ] || fail "the api answers on $host_address:$api_port"
say "ok: no datastore port published; the api answers on 127.0.0.1:$api_port and not on $host_address"

# --- fault drills ------------------------------------------------------------------------------
api_id=$(container_of api)
started=$(docker inspect -f '{{.State.StartedAt}} {{.RestartCount}}' "$api_id")
dc stop postgres >/dev/null 2>&1
wait_until 30 "postgres down: /health/ready 503" sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 $base_url/health/ready)\" = 503 ]"
expect_status 200 "postgres down: /health/live" "$base_url/health/live"
dc start postgres >/dev/null 2>&1
wait_until 90 "postgres back: /health/ready 200" sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 $base_url/health/ready)\" = 200 ]"
[ "$(docker inspect -f '{{.State.StartedAt}} {{.RestartCount}}' "$api_id")" = "$started" ] || fail "the api restarted during the postgres drill"
say "ok: postgres stopped → ready 503, live 200; started → ready 200, the api never restarted"

dc stop redis >/dev/null 2>&1
for _ in 1 2 3; do
  got=$(status_of -H "authorization: Bearer $token" "$api/auth/me")
  case "$got" in 401 | 503) ;; *) fail "redis down: a protected route answered $got (must fail closed: 401/503)" ;; esac
done
dc start redis >/dev/null 2>&1
wait_until 60 "redis back: protected route 200" sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'authorization: Bearer $token' $api/auth/me)\" = 200 ]"
say "ok: redis stopped → protected route $got (fails closed); started → 200 again"

cp .env "$work/env.good"
sed -i 's/^JWT_SECRET=.*/JWT_SECRET=secret/' .env
dc up -d --no-deps --force-recreate api >/dev/null 2>&1
wait_until 60 "weak JWT_SECRET: the api refuses and says why" sh -c \
  "docker compose -p $prod_project -f compose.yaml -f compose.prod.yaml logs --no-color api 2>&1 | grep -q JWT_SECRET"
weak_state=$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}' "$(container_of api)")
case "$weak_state" in "running 0 0") fail "the api serves with a weak JWT_SECRET" ;; esac
say "ok: weak JWT_SECRET refused ($weak_state); log: $(dc logs --no-color api 2>&1 | grep -m1 JWT_SECRET | cut -c1-160)"
cp "$work/env.good" .env
dc up -d --no-deps --force-recreate --wait api >/dev/null 2>&1 || fail "the api did not come back with the good .env"

# --- backups -----------------------------------------------------------------------------------
backups_before=$(find backups -name '*.dump' | wc -l)
dc exec -T -u postgres backup bash /deploy/backup.sh once >"$work/backup.log" 2>&1 || { cat "$work/backup.log" >&2; fail "backup on demand"; }
dump=$(find backups -name '*.dump' -newer "$work/env.good" | sort | tail -1)
[ -n "$dump" ] && [ "$(find backups -name '*.dump' | wc -l)" -gt "$backups_before" ] || fail "backup.sh once wrote no new dump"
users=$(dc exec -T postgres psql -U "$name" -d "$name" -tAc 'SELECT count(*) FROM users')
dc exec -T -u postgres -e PGDATABASE=restored backup bash /deploy/restore.sh --yes "/backups/$(basename "$dump")" \
  >"$work/restore.log" 2>&1 || { cat "$work/restore.log" >&2; fail "restore.sh into a fresh database"; }
restored=$(dc exec -T postgres psql -U "$name" -d restored -tAc 'SELECT count(*) FROM users')
[ "$users" -ge 2 ] && [ "$restored" = "$users" ] || fail "restored database has $restored users, the live one $users"
say "ok: backup on demand ($(basename "$dump")), restored into a fresh database: $restored users intact"

# --- shasec probe against the running prod API (last: it spends the rate limits) --------------------------------------------------
if [ -n "$shasec" ]; then
  # The HTTP families on 127.0.0.1 (where this machine's own Postgres and Redis also listen:
  # the ports family is judged on the host's bridge address instead, below). Not ratelimit here:
  # straight from the host the requests come from the network gateway, which compose.prod.yaml
  # trusts as the TLS proxy, so a forged X-Forwarded-For is believed as the proxy's would be. That
  # family runs next, end to end through Caddy with the project's own Caddyfile, as clients reach
  # production.
  if ! "$shasec" probe "$base_url" --credentials "$email:$password" --skip ports,ratelimit --fail-on medium \
      --project . >"$work/probe.txt" 2>&1; then
    cat "$work/probe.txt" >&2
    fail "shasec probe found something at medium or above against the prod stack"
  fi
  say "ok: shasec probe $base_url: no finding at medium or above ($(grep -c . "$work/probe.txt") report lines)"
  # deploy/Caddyfile as caddy adapts it, DOMAIN a plain-HTTP site on a free port (no certificate
  # to obtain); only its admin endpoint and access log move into this test's port and folder.
  proxy_port=$(free_port $((api_port + 1)))
  admin_port=$(free_port $((proxy_port + 1)))
  DOMAIN=http://127.0.0.1:$proxy_port ACME_EMAIL=ops@stack-test.internal API_HOST_PORT=$api_port \
    caddy adapt --adapter caddyfile --config deploy/Caddyfile >"$work/caddy.json" 2>"$work/caddy-adapt.log" \
    || { cat "$work/caddy-adapt.log" >&2; fail "caddy adapt deploy/Caddyfile"; }
  python3 - "$work/caddy.json" "127.0.0.1:$admin_port" "$work/caddy-access.log" <<'PY' || fail "cannot relocate Caddy's admin endpoint and log"
import json, sys
path, admin, log = sys.argv[1:]
config = json.load(open(path))
config["admin"] = {"listen": admin}
for logger in (config.get("logging") or {}).get("logs", {}).values():
    if (logger.get("writer") or {}).get("output") == "file":
        logger["writer"]["filename"] = log
json.dump(config, open(path, "w"))
PY
  caddy run --config "$work/caddy.json" >"$work/caddy.log" 2>&1 &
  caddy_pid=$!
  wait_until 20 "Caddy answers on 127.0.0.1:$proxy_port" sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$proxy_port/health/live)\" = 200 ]"
  if ! "$shasec" probe "http://127.0.0.1:$proxy_port" --credentials "$email:$password" --only ratelimit --project . \
      --fail-on medium >"$work/probe-proxy.txt" 2>&1; then
    kill "$caddy_pid" 2>/dev/null || true
    cat "$work/probe-proxy.txt" >&2
    fail "shasec probe --only ratelimit through Caddy found something at medium or above"
  fi
  kill "$caddy_pid" 2>/dev/null || true
  wait "$caddy_pid" 2>/dev/null || true
  say "ok: shasec probe --only ratelimit through Caddy (deploy/Caddyfile, 127.0.0.1:$proxy_port): login limited, forged client addresses not believed"
  "$shasec" probe "http://$host_address:$api_port" --only ports --ports 5432,6379 --format json --output "$work/ports.json" \
    >"$work/ports.txt" 2>&1 || true
  python3 - "$work/ports.json" <<'PY' || { cat "$work/ports.txt" >&2; fail "shasec ports probe on the host"; }
import json, sys
report = json.load(open(sys.argv[1]))
open_ports = [f for f in report["findings"] if f["severity"] in ("medium", "high", "critical")]
if open_ports:
    print("open datastore ports:", [f.get("title") for f in open_ports], file=sys.stderr)
    sys.exit(1)
PY
  say "ok: shasec probe --only ports on the host ($host_address): datastores closed"
fi

# --- down -v leaves nothing ------------------------------------------------------------------------
dc down -v --remove-orphans >/dev/null 2>&1
left=$(docker ps -aq --filter "label=com.docker.compose.project=$prod_project"; \
  docker network ls -q --filter "label=com.docker.compose.project=$prod_project"; \
  docker volume ls -q --filter "label=com.docker.compose.project=$prod_project")
[ -z "$left" ] || fail "down -v left: $left"
say "ok: down -v left no container, network or volume"
say "PASS — image $(( image_size / 1000 / 1000 )) MB (build ${build_seconds}s), prod stack healthy ${healthy_seconds}s after up"
