#!/usr/bin/env bash
# The generated project on Docker Swarm (issue 9): deploy/stack.yaml deployed with
# `docker stack deploy` on a single-node swarm this test creates (and leaves afterwards), the
# secrets written by deploy/swarm-secrets.sh and read by the app through *_FILE settings.
#
#   ci/test-swarm.sh PROJECT_DIR
#
# Proves: every api replica answers (each one's own log holds some of the request ids sent);
# a login limit reached through one replica holds on the other (the counters live in Redis);
# a rolling update to a new image tag under light load serves zero non-2xx answers (printed).
# The image is the project's own (docker build, reusing the layer cache of ci/test-stack.sh).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source_project=$(cd "${1:?usage: test-swarm.sh PROJECT_DIR}" && pwd)
name=$(sed -n 's/^name = "\(.*\)"$/\1/p' "$source_project/Cargo.toml" | head -1)
stack=shaapi-test-swarm
image=$name:local
rollout_image=$name:rollout-$$
state_dir=${SHAAPI_DOCKER_STATE:-/var/lib/shaapi-ci}

say() { echo "test-swarm: $*"; }
fail() {
  echo "test-swarm: FAIL: $*" >&2
  docker stack ps --no-trunc "$stack" 2>&1 | head -20 >&2 || true
  for service in api migrate postgres redis; do
    echo "--- ${stack}_$service" >&2
    docker service logs --tail 10 --raw "${stack}_$service" >&2 2>&1 || true
  done
  exit 1
}
# Swarm's service addresses (VIPs) and its routing mesh are IPVS: a kernel without it cannot run
# a stack at all (tasks get "no route to host" to each other), so say so instead of timing out.
if [ ! -e /proc/net/ip_vs ] && ! modprobe ip_vs 2>/dev/null; then
  echo "test-swarm: this kernel has no IPVS (ip_vs), which Swarm's service VIPs and routing mesh need" >&2
  exit 3
fi
[ -f "$source_project/deploy/stack.yaml" ] || { echo "test-swarm: $source_project has no deploy/stack.yaml" >&2; exit 2; }

port_taken() { ss -H -ltn "sport = :$1" | grep -q .; }
api_port=""
for candidate in $(seq 18560 18599); do port_taken "$candidate" || { api_port=$candidate; break; }; done
[ -n "$api_port" ] || { echo "test-swarm: no free port in 18560-18599" >&2; exit 2; }
base_url=http://127.0.0.1:$api_port

wait_until() { # SECONDS WHAT COMMAND…
  local limit=$1 what=$2; shift 2
  local deadline=$(( $(date +%s) + limit ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "$what: not within ${limit}s"
    sleep 1
  done
}
status_of() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" || true; }

bash "$root/ci/docker.sh"
bash "$root/ci/base-images.sh" "$source_project"

work=$(mktemp -d "${TMPDIR:-/tmp}/shaapi-swarm.XXXXXX")
cleanup() {
  docker stack rm "$stack" >/dev/null 2>&1 || true
  # Tasks, networks and volumes go away asynchronously; ci/docker.sh cleanup waits for them.
  bash "$root/ci/docker.sh" cleanup >/dev/null 2>&1 || true
  docker image rm "$rollout_image" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

t0=$(date +%s)
# Through compose, the builder ci/test-stack.sh and the deploy guide use: its layer cache answers.
(cd "$source_project" && POSTGRES_PASSWORD=build-only REDIS_PASSWORD=build-only \
  docker compose -p "$stack" -f compose.yaml -f compose.prod.yaml build api) >"$work/build.log" 2>&1 \
  || { tail -n 40 "$work/build.log" >&2; fail "the image does not build"; }
say "image $image ready in $(( $(date +%s) - t0 ))s"

if [ "$(docker info -f '{{.Swarm.LocalNodeState}}')" != active ]; then
  docker swarm init --advertise-addr 127.0.0.1 >/dev/null || fail "docker swarm init failed"
  mkdir -p "$state_dir"
  touch "$state_dir/swarm-created-by-tests"
  say "single-node swarm created"
fi

mkdir -p "$work/project"
tar -C "$source_project" --exclude=./target --exclude=./.env --exclude=./deploy/secrets -cf - . | tar -C "$work/project" -xf -
cd "$work/project"
bash deploy/swarm-secrets.sh >/dev/null
t0=$(date +%s)
API_PUBLISHED_PORT=$api_port docker stack deploy -c deploy/stack.yaml "$stack" >"$work/deploy.log" 2>&1 \
  || { cat "$work/deploy.log" >&2; fail "docker stack deploy"; }
replicas() { docker service ls --filter "name=${stack}_api" --format '{{.Replicas}}'; }
wait_until 240 "2/2 api replicas running and healthy" sh -c "[ \"\$(docker service ls --filter name=${stack}_api --format '{{.Replicas}}')\" = 2/2 ]"
wait_until 60 "/health/ready 200 through the routing mesh" sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 $base_url/health/ready)\" = 200 ]"
say "ok: stack deployed, $(replicas) api replicas healthy in $(( $(date +%s) - t0 ))s"
migrate_state=$(docker service ps --format '{{.CurrentState}}' "${stack}_migrate" | head -1)
case "$migrate_state" in Complete*) ;; *) fail "migrate task is $migrate_state, not Complete" ;; esac

# Which replica served a request: each logs its response line with the request id.
mapfile -t replica_containers < <(docker ps -q --filter "label=com.docker.swarm.service.name=${stack}_api")
[ "${#replica_containers[@]}" -ge 2 ] || fail "expected 2 api containers, found ${#replica_containers[@]}"
served_by() { # ID-PREFIX → for each replica, how many of its log lines hold the prefix
  local id per_replica=()
  for id in "${replica_containers[@]}"; do
    per_replica+=("$(docker logs "$id" 2>&1 | grep -c -- "$1" || true)")
  done
  echo "${per_replica[*]}"
}
every_replica() { local count; for count in $1; do [ "$count" -gt 0 ] || return 1; done; }

api=$base_url/api/v1
for i in $(seq 12); do
  status=$(status_of -H "x-request-id: swarm-answer-$i" "$api/auth/me")
  [ "$status" = 401 ] || fail "GET /auth/me without a token answered $status, expected 401"
done
sleep 1
counts=$(served_by swarm-answer-)
every_replica "$counts" || fail "not every replica answered (requests per replica: $counts)"
say "ok: both replicas answer (requests per replica: $counts)"

# A login limit reached through one replica holds on the other.
email=swarm-$RANDOM@example.test
password=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
body=$(printf '{"email":"%s","password":"%s"}' "$email" "$password")
wrong=$(printf '{"email":"%s","password":"%s"}' "$email" "wrong-$password")
[ "$(status_of -X POST -H 'content-type: application/json' -d "$body" "$api/auth/register")" = 201 ] || fail "register"
limited_at=""
for i in $(seq 20); do
  status=$(status_of -X POST -H 'content-type: application/json' -H "x-request-id: swarm-fail-$i" -d "$wrong" "$api/auth/login")
  if [ "$status" = 429 ]; then limited_at=$i; break; fi
  [ "$status" = 401 ] || fail "wrong password answered $status, expected 401 then 429"
done
[ -n "$limited_at" ] || fail "20 wrong passwords and no login limit"
for i in $(seq 6); do
  status=$(status_of -X POST -H 'content-type: application/json' -H "x-request-id: swarm-limited-$i" -d "$body" "$api/auth/login")
  [ "$status" = 429 ] || fail "login $i after the limit answered $status (right password), expected 429 on every replica"
done
sleep 1
counts=$(served_by swarm-limited-)
every_replica "$counts" || fail "the limited logins did not reach every replica (per replica: $counts)"
say "ok: limit reached after $limited_at wrong passwords; then 6 right-password logins refused 429 across replicas (per replica: $counts)"

# A rolling update to a new image tag under light load.
docker tag "$image" "$rollout_image"
load_log=$work/load.log
: >"$load_log"
( while [ ! -f "$work/stop-load" ]; do
    curl -s -o /dev/null -w '%{http_code}\n' --max-time 5 "$base_url/health/ready" >>"$load_log" || echo 000 >>"$load_log"
    sleep 0.05
  done ) &
load_pid=$!
t0=$(date +%s)
API_IMAGE=$rollout_image API_PUBLISHED_PORT=$api_port docker stack deploy -c deploy/stack.yaml "$stack" \
  >"$work/rollout.log" 2>&1 || { touch "$work/stop-load"; cat "$work/rollout.log" >&2; fail "rolling update deploy"; }
updated() {
  [ "$(docker service inspect -f '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{else}}none{{end}}' "${stack}_api")" = completed ] \
    && [ "$(replicas)" = 2/2 ]
}
wait_until 300 "rolling update completed" updated
sleep 3
touch "$work/stop-load"
wait "$load_pid" || true
total=$(grep -c . "$load_log")
non_2xx=$(grep -vc '^2' "$load_log" || true)
running_image=$(docker service inspect -f '{{.Spec.TaskTemplate.ContainerSpec.Image}}' "${stack}_api")
case "$running_image" in "$rollout_image"*) ;; *) fail "the api runs $running_image after the update" ;; esac
say "rolling update to $rollout_image in $(( $(date +%s) - t0 ))s: $total requests, $non_2xx non-2xx"
[ "$non_2xx" = 0 ] || fail "$non_2xx of $total requests were not 2xx during the rolling update ($(grep -v '^2' "$load_log" | sort | uniq -c | tr '\n' ' '))"
say "PASS — $(replicas) replicas, shared login limit, zero-downtime rolling update ($total requests, 0 non-2xx)"
