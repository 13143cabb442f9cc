#!/usr/bin/env bash
# Install deploy/Caddyfile as the server's TLS reverse proxy for DOMAIN. Run as root from the
# project checkout after deploy/provision.sh:
#   bash deploy/setup-proxy.sh api.example.org ops@example.org
# Caddy obtains the certificate itself once DNS for DOMAIN points at this server.
set -euo pipefail

log() { printf 'setup-proxy: %s\n' "$*"; }
die() { printf 'setup-proxy: error: %s\n' "$*" >&2; exit 1; }

[[ $# -eq 2 ]] || die "usage: setup-proxy.sh DOMAIN ACME_EMAIL"
domain="$1"
email="$2"
[[ "$domain" =~ ^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}$ ]] \
    || die "'$domain' is not a domain name such as api.example.org"
[[ "$domain" != *example.com && "$domain" != *example.org ]] \
    || die "'$domain' is a documentation placeholder: use your real domain"
[[ "$email" =~ ^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$ ]] \
    || die "'$email' is not an email address (Let's Encrypt sends expiry warnings there)"
[[ "$(id -u)" == 0 ]] || die "run as root"
command -v caddy >/dev/null 2>&1 || die "caddy is not installed: run deploy/provision.sh first"

source_file="$(dirname "${BASH_SOURCE[0]}")/Caddyfile"
[[ -f "$source_file" ]] || die "$source_file not found: run this from the project checkout"

# The api's host port, when .env moves it off 8000 (compose.prod.yaml publishes API_HOST_PORT).
env_file="$(dirname "${BASH_SOURCE[0]}")/../.env"
api_port=$(sed -n 's/^API_HOST_PORT=\([0-9]*\)$/\1/p' "$env_file" 2>/dev/null | tail -1)
api_port=${api_port:-8000}

DOMAIN="$domain" ACME_EMAIL="$email" API_HOST_PORT="$api_port" caddy validate --adapter caddyfile --config "$source_file" \
    || die "Caddy rejected $source_file"

if [[ -f /etc/caddy/Caddyfile ]] && ! cmp -s "$source_file" /etc/caddy/Caddyfile; then
    backup="/etc/caddy/Caddyfile.$(date -u +%Y%m%dT%H%M%SZ).bak"
    cp -p /etc/caddy/Caddyfile "$backup"
    log "previous Caddyfile kept as $backup"
fi
install -m 0644 "$source_file" /etc/caddy/Caddyfile
install -m 0755 -d /etc/systemd/system/caddy.service.d
printf '[Service]\nEnvironment="DOMAIN=%s" "ACME_EMAIL=%s" "API_HOST_PORT=%s"\n' "$domain" "$email" "$api_port" \
    >/etc/systemd/system/caddy.service.d/{{project-name}}.conf
systemctl daemon-reload
systemctl enable caddy >/dev/null
systemctl restart caddy
log "Caddy serves https://$domain -> 127.0.0.1:$api_port"
