#!/usr/bin/env bash
# Prepare a fresh Debian or Ubuntu server for {{project-name}}: Docker Engine and the compose plugin
# from Docker's apt repository, Caddy (the TLS reverse proxy), ufw and unattended security
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
apt-get install -y -q --no-install-recommends ca-certificates curl gnupg ufw unattended-upgrades

if ! command -v docker >/dev/null 2>&1 || ! docker compose version >/dev/null 2>&1; then
    log "adding Docker's apt repository for $ID $VERSION_CODENAME"
    install -m 0755 -d /etc/apt/keyrings
    curl -fsSL "https://download.docker.com/linux/$ID/gpg" -o /etc/apt/keyrings/docker.asc
    chmod a+r /etc/apt/keyrings/docker.asc
    printf 'deb [arch=%s signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/%s %s stable\n' \
        "$(dpkg --print-architecture)" "$ID" "$VERSION_CODENAME" >/etc/apt/sources.list.d/docker.list
    apt-get update -q
    apt-get install -y -q docker-ce docker-ce-cli containerd.io docker-buildx-plugin docker-compose-plugin
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
