#!/usr/bin/env bash
# Writes the secret files deploy/stack.yaml hands to Docker Swarm, under deploy/secrets/ (mode
# 0600, folder 0700). Only missing files are written: running it again changes nothing. To
# rotate one, delete its file, write it again, and deploy the stack under new secret names
# (Swarm secrets are immutable). The passwords are letters and digits, so they need no escaping
# inside the URLs.
set -euo pipefail

folder="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/secrets"
umask 077
mkdir -p "$folder"
chmod 0700 "$folder"

random_secret() { # 48 letters and digits, about 285 bits
    local value=""
    while [ "${#value}" -lt 48 ]; do
        value+="$(head -c 64 /dev/urandom | tr -dc 'A-Za-z0-9')"
    done
    printf '%s' "${value:0:48}"
}

write_once() { # NAME VALUE
    local file="$folder/$1"
    if [ -s "$file" ]; then
        echo "swarm-secrets: $1 kept"
        return 0
    fi
    printf '%s\n' "$2" >"$file"
    echo "swarm-secrets: $1 written"
}

write_once jwt_secret "$(random_secret)"
write_once postgres_password "$(random_secret)"
write_once redis_password "$(random_secret)"
postgres_password="$(head -n 1 "$folder/postgres_password")"
redis_password="$(head -n 1 "$folder/redis_password")"
write_once database_url "postgres://{{crate_name}}:$postgres_password@postgres:5432/{{crate_name}}"
write_once redis_url "redis://:$redis_password@redis:6379/0"
