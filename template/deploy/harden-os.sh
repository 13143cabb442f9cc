#!/usr/bin/env bash
# Firewall the server: ufw denies every incoming connection except SSH, HTTP and HTTPS, then
# verifies that no datastore port listens on a public address. ufw alone is not enough: ports
# published by Docker bypass it, which is why the verification also reads `docker ps`.
#   harden-os.sh [--ssh-port N]     configure ufw (root), then verify
#   harden-os.sh --check-only       only verify; exits 1 when a datastore is exposed
set -euo pipefail

# Postgres, Redis, MySQL/MariaDB, MongoDB, Memcached, Elasticsearch, RabbitMQ (+ management),
# MinIO (API + console), CouchDB, Cassandra.
DATASTORE_PORTS=(5432 6379 3306 27017 11211 9200 9300 5672 15672 9000 9001 5984 9042)

log() { printf 'harden-os: %s\n' "$*"; }
die() { printf 'harden-os: error: %s\n' "$*" >&2; exit 2; }

is_datastore_port() {
    local port="$1" candidate
    for candidate in "${DATASTORE_PORTS[@]}"; do
        [[ "$port" == "$candidate" ]] && return 0
    done
    return 1
}

is_loopback() {
    local host="$1"
    host="${host#[}"
    host="${host%]}"
    host="${host%%%*}"
    [[ "$host" == 127.* || "$host" == ::1 || "$host" == ::ffff:127.* || "$host" == localhost ]]
}

# Prints one line per datastore socket listening on a non-loopback address.
exposed_listeners() {
    command -v ss >/dev/null 2>&1 || die "ss (iproute2) is required to list listening sockets"
    local netid state recv send local_address rest host port
    while read -r netid state recv send local_address rest; do
        [[ -n "$local_address" ]] || continue
        port="${local_address##*:}"
        host="${local_address%:*}"
        is_datastore_port "$port" || continue
        is_loopback "$host" && continue
        printf '%s %s listens on %s\n' "$netid" "$port" "$local_address"
    done < <(ss -H -l -n -t -u)
    : "$state" "$recv" "$send" "$rest"
}

# Published container ports, as `docker ps` prints them (0.0.0.0:5432->5432/tcp).
exposed_containers() {
    command -v docker >/dev/null 2>&1 || return 0
    local line mapping host port
    while read -r line; do
        for mapping in $line; do
            [[ "$mapping" == *"->"* ]] || continue
            mapping="${mapping%,}"
            host="${mapping%%->*}"
            port="${host##*:}"
            host="${host%:*}"
            is_datastore_port "$port" || continue
            is_loopback "$host" && continue
            printf 'container port %s published on %s\n' "$port" "$mapping"
        done
    done < <(docker ps 2>/dev/null | tail -n +2)
}

verify_exposure() {
    local findings
    findings="$(exposed_listeners; exposed_containers)"
    if [[ -n "$findings" ]]; then
        printf 'harden-os: EXPOSED datastore ports (bind them to 127.0.0.1 or remove the mapping):\n%s\n' "$findings" >&2
        return 1
    fi
    log "ok: no datastore port (${DATASTORE_PORTS[*]}) listens on a public address"
}

configure_firewall() {
    local ssh_port="$1"
    [[ "$(id -u)" == 0 ]] || die "run as root to configure the firewall (or use --check-only)"
    command -v ufw >/dev/null 2>&1 || die "ufw is not installed: run deploy/provision.sh first"
    log "ufw: deny incoming by default; allow ssh ($ssh_port/tcp, rate-limited), 80/tcp, 443/tcp, 443/udp"
    ufw default deny incoming
    ufw default allow outgoing
    # Allow SSH before enabling, so the current session survives.
    ufw limit "$ssh_port/tcp"
    ufw allow 80/tcp
    ufw allow 443/tcp
    ufw allow 443/udp
    ufw --force enable
    ufw status verbose
}

main() {
    local ssh_port=22 check_only=false
    while (($# > 0)); do
        case "$1" in
            --check-only) check_only=true ;;
            --ssh-port)
                [[ $# -ge 2 ]] || die "--ssh-port needs a value"
                ssh_port="$2"
                shift
                ;;
            -h | --help) sed -n '2,7p' "$0"; exit 0 ;;
            *) die "unknown option '$1' (expected --ssh-port N or --check-only)" ;;
        esac
        shift
    done
    if ! [[ "$ssh_port" =~ ^[1-9][0-9]{0,4}$ ]] || ((ssh_port > 65535)); then
        die "--ssh-port must be a port number, got '$ssh_port'"
    fi
    [[ "$check_only" == true ]] || configure_firewall "$ssh_port"
    verify_exposure
}

main "$@"
