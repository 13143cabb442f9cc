#!/usr/bin/env bash
# Local stand-ins for the base images a generated project names, for machines that reach no
# image registry (`docker pull` fails here) but do reach Debian's packages. Each is tagged
# EXACTLY as the project's Dockerfile and compose files name it, so the product files run
# unchanged; every name those files use is checked against this list first.
#
#   ci/base-images.sh PROJECT_DIR
#
# All stand-ins start from one Debian bookworm root filesystem made by debootstrap and
# `docker import`ed as shaapi-ci/debian:bookworm.
#
#   rust:<RUST_VERSION>-slim-bookworm (RUST_VERSION: the Dockerfile's ARG default)
#     honours: cargo/rustc on PATH, RUSTUP_HOME=/usr/local/rustup, CARGO_HOME=/usr/local/cargo,
#       gcc + libc6-dev + ca-certificates (what the slim image ships to link and fetch crates);
#     differs: the toolchain is a copy of this machine's active one (its version must match
#       RUST_VERSION), without rustup, docs or rust-src; it also trusts this machine's local
#       certificate authorities (/usr/local/share/ca-certificates), as the host does.
#   gcr.io/distroless/cc-debian12:nonroot
#     honours: no shell, no package manager; glibc, libgcc, libstdc++, libssl3, CA certificates
#       (SSL_CERT_FILE), tzdata, /etc/passwd with root, nobody and nonroot (65532:65532, home
#       /home/nonroot), USER 65532, a 1777 /tmp;
#     differs: assembled from bookworm's packages, not Google's build.
#   postgres:17-alpine
#     honours: POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB (and their _FILE variants),
#       POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD (default scram-sha-256 for TCP), PGDATA
#       (default /var/lib/postgresql/data), init on first start only, /docker-entrypoint-initdb.d
#       (*.sh, *.sql), `postgres` as the command and `-c` flags, dropping from root to postgres,
#       running as a given uid (user "70:70" — the alpine image's postgres uid/gid), listening on
#       all interfaces; pg_isready, psql, pg_dump, pg_restore on PATH; bash; a user switcher for
#       deploy/backup.sh;
#     differs: PostgreSQL 15 (bookworm's), not 17; glibc, not musl; gosu, not su-exec.
#   redis:7-alpine
#     honours: redis-server / redis-cli on PATH, `redis-server ARGS` or `--flags` as the command
#       (any other command runs as is), uid 999 / gid 1000 `redis`, workdir and volume /data,
#       protected mode off as the official build has it, sh and grep for healthchecks;
#     differs: Redis 7.0 (bookworm's); glibc, not musl; no gosu drop from root (start it with a
#       user, as our compose files do).
#
# One image is no stand-in but a service of the tests alone (no product file names it):
#   shaapi-ci/smtp-sink:bookworm
#     Debian's python3-aiosmtpd, as the operator's mail relay of ci/compose.smtp-sink.yaml
#     (STARTTLS required, every message kept in a Maildir the test reads).
#
# Cache: each image carries a label with the hash of its inputs (its Dockerfile, the base image,
# the toolchain's `rustc -vV`); an image whose label matches is not rebuilt.
set -euo pipefail

project=$(cd "${1:?usage: base-images.sh PROJECT_DIR}" && pwd)
label=org.shaapi.ci.inputs
base_tag=shaapi-ci/debian:bookworm
mirror=http://deb.debian.org/debian

die() { echo "base-images: $*" >&2; exit 1; }
docker info >/dev/null 2>&1 || die "no Docker engine answers (run ci/docker.sh first)"

# The stand-in's tag for the Rust builder, from the Dockerfile's own ARG default.
rust_version=$(sed -n 's/^ARG RUST_VERSION=\([0-9.]*\)$/\1/p' "$project/Dockerfile" | head -1)
[ -n "$rust_version" ] || die "$project/Dockerfile has no ARG RUST_VERSION=<version>"
rust_tag="rust:${rust_version}-slim-bookworm"
distroless_tag=gcr.io/distroless/cc-debian12:nonroot
postgres_tag=postgres:17-alpine
redis_tag=redis:7-alpine
smtp_sink_tag=shaapi-ci/smtp-sink:bookworm

# Every external image the product files name must be one built here.
check_names() {
  local names=() name
  while read -r name; do names+=("$name"); done < <(
    sed -n 's/^FROM \([^ ]*\).*/\1/p' "$project/Dockerfile" \
      | sed "s/\${RUST_VERSION}/$rust_version/"
    grep -h '^ *image:' "$project"/compose*.yaml "$project"/deploy/*.yaml 2>/dev/null \
      | sed 's/^ *image: *//; s/"//g')
  local stages; stages=$(sed -n 's/^FROM .* AS \([a-z0-9_-]*\)$/\1/p' "$project/Dockerfile")
  for name in "${names[@]}"; do
    case "$name" in
      '${'*) continue ;; # the project's own image (API_IMAGE…)
      "$rust_tag" | "$distroless_tag" | "$postgres_tag" | "$redis_tag") ;;
      *) grep -qx "$name" <<<"$stages" || die "the project names image '$name', which has no stand-in here" ;;
    esac
  done
}
check_names

inputs_of() { docker image inspect -f "{{ index .Config.Labels \"$label\" }}" "$1" 2>/dev/null || true; }

# build TAG HASH CONTEXT_DIR — docker build unless TAG already carries HASH.
build() {
  local tag=$1 hash=$2 context=$3 t0
  if [ "$(inputs_of "$tag")" = "$hash" ]; then
    echo "base-images: $tag is up to date"
    return 0
  fi
  t0=$(date +%s)
  echo "base-images: building $tag"
  local log; log=$(mktemp)
  if ! docker build --label "$label=$hash" -t "$tag" "$context" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    rm -f "$log"
    die "building $tag failed (last lines above)"
  fi
  rm -f "$log"
  echo "base-images: built $tag in $(( $(date +%s) - t0 ))s"
}

work=$(mktemp -d "${TMPDIR:-/tmp}/shaapi-base-images.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- the Debian root filesystem ---------------------------------------------------------
base_hash=$(printf 'debootstrap --variant=minbase bookworm %s v1' "$mirror" | sha256sum | cut -c1-16)
if [ "$(inputs_of "$base_tag")" != "$base_hash" ]; then
  command -v debootstrap >/dev/null || {
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null 2>&1 \
      || die "debootstrap is missing and apt-get could not install it"
  }
  t0=$(date +%s)
  echo "base-images: debootstrap bookworm (about 75 s)"
  debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed (last lines above)"; }
  rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
  tar -C "$work/rootfs" -c . | docker import \
    --change "LABEL $label=$base_hash" --change 'CMD ["bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    - "$base_tag" >/dev/null
  rm -rf "$work/rootfs"
  echo "base-images: imported $base_tag in $(( $(date +%s) - t0 ))s"
else
  echo "base-images: $base_tag is up to date"
fi
base_id=$(docker image inspect -f '{{.Id}}' "$base_tag")

# hash_of DIR [EXTRA] — inputs of a stand-in: its Dockerfile, the base image, anything extra.
hash_of() { { cat "$1/Dockerfile"; echo "$base_id"; echo "${2:-}"; } | sha256sum | cut -c1-16; }

# --- rust:<version>-slim-bookworm --------------------------------------------------------
sysroot=$(rustc --print sysroot)
toolchain_version=$(rustc -vV | sed -n 's/^release: //p')
case "$toolchain_version" in
  "$rust_version" | "$rust_version".*) ;;
  *) die "the Dockerfile wants Rust $rust_version but this machine's toolchain is $toolchain_version" ;;
esac
mkdir -p "$work/rust/local-ca"
# This machine's own certificate authorities (a TLS-inspecting egress proxy, for one): the builder
# fetches crates through the same network as the host, so it trusts what the host trusts.
find /usr/local/share/ca-certificates -maxdepth 1 -name '*.crt' -exec cp {} "$work/rust/local-ca/" \; 2>/dev/null || true
cat >"$work/rust/Dockerfile" <<EOF
FROM $base_tag
COPY local-ca/ /usr/local/share/ca-certificates/
RUN apt-get update \\
    && apt-get install -y --no-install-recommends ca-certificates gcc libc6-dev \\
    && rm -rf /var/lib/apt/lists/* \\
    && update-ca-certificates >/dev/null
ENV RUSTUP_HOME=/usr/local/rustup \\
    CARGO_HOME=/usr/local/cargo \\
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    RUST_VERSION=$toolchain_version
COPY toolchain /usr/local/rustup/toolchains/$toolchain_version-x86_64-unknown-linux-gnu
RUN mkdir -p /usr/local/cargo/bin \\
    && for tool in /usr/local/rustup/toolchains/*/bin/*; do ln -s "\$tool" /usr/local/cargo/bin/; done \\
    && chmod -R a+rwX /usr/local/cargo \\
    && cargo --version && rustc --version
EOF
rust_hash=$(hash_of "$work/rust" "$(rustc -vV; cat "$work/rust/local-ca/"* 2>/dev/null)")
if [ "$(inputs_of "$rust_tag")" != "$rust_hash" ]; then
  # Hard links: the 1 GB toolchain enters the build context without being copied on disk.
  cp -al "$sysroot" "$work/rust/toolchain" 2>/dev/null || cp -a "$sysroot" "$work/rust/toolchain"
  rm -rf "$work/rust/toolchain/share/doc" "$work/rust/toolchain/lib/rustlib/src" \
    "$work/rust/toolchain/share/man"
fi
build "$rust_tag" "$rust_hash" "$work/rust"

# --- gcr.io/distroless/cc-debian12:nonroot ------------------------------------------------
mkdir -p "$work/distroless"
cat >"$work/distroless/Dockerfile" <<EOF
FROM $base_tag AS assemble
RUN apt-get update \\
    && apt-get install -y --no-install-recommends ca-certificates tzdata netbase libc6 libgcc-s1 \\
       libstdc++6 libssl3 libgomp1 \\
    && rm -rf /var/lib/apt/lists/*
# Only the packages' files (no binaries, docs or locales): merged-/usr links first, so the
# libraries land where the dynamic loader looks for them.
RUN mkdir -p /rootfs/usr/lib /rootfs/usr/lib64 /rootfs/usr/bin /rootfs/usr/sbin \\
    && ln -s usr/lib /rootfs/lib && ln -s usr/lib64 /rootfs/lib64 \\
    && ln -s usr/bin /rootfs/bin && ln -s usr/sbin /rootfs/sbin \\
    && for package in ca-certificates tzdata netbase libc6 libgcc-s1 libstdc++6 libssl3 libgomp1; do \\
         dpkg -L "\$package"; done \\
       | grep -v -E '^/(usr/)?s?bin/|^/usr/share/(doc|man|lintian|locale|bug)/' \\
       | while read -r path; do [ -d "\$path" ] || echo "\${path#/}"; done >/tmp/files \\
    && tar -C / --no-recursion -cf - -T /tmp/files | tar -C /rootfs --keep-directory-symlink -xf - \\
    && cp -a /etc/ssl/certs /rootfs/etc/ssl/ \\
    && mkdir -p /rootfs/tmp /rootfs/home/nonroot /rootfs/root \\
    && chmod 1777 /rootfs/tmp && chown 65532:65532 /rootfs/home/nonroot && chmod 0700 /rootfs/root \\
    && printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' \\
         'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \\
         'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >/rootfs/etc/passwd \\
    && printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'tty:x:5:' 'staff:x:50:' \\
         'nonroot:x:65532:' >/rootfs/etc/group \\
    && printf 'hosts: files dns\n' >/rootfs/etc/nsswitch.conf \\
    && test ! -e /rootfs/usr/bin/sh && test ! -e /rootfs/usr/bin/bash

FROM scratch
COPY --from=assemble /rootfs/ /
ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin \\
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
WORKDIR /home/nonroot
EOF
build "$distroless_tag" "$(hash_of "$work/distroless")" "$work/distroless"

# --- postgres:17-alpine ----------------------------------------------------------------
mkdir -p "$work/postgres"
cat >"$work/postgres/entrypoint.sh" <<'EOF'
#!/usr/bin/env bash
# The official image's documented start-up contract, re-implemented (see ci/base-images.sh).
set -Eeuo pipefail

# VAR or VAR_FILE (not both), exported as VAR.
file_env() {
  local var=$1 default=${2:-} file_var="${1}_FILE"
  if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
    echo "error: both $var and $file_var are set (but are exclusive)" >&2; exit 1
  fi
  local value=$default
  if [ -n "${!var:-}" ]; then value=${!var}
  elif [ -n "${!file_var:-}" ]; then value=$(<"${!file_var}"); fi
  export "$var=$value"
  unset "$file_var"
}

if [ "${1:0:1}" = '-' ]; then set -- postgres "$@"; fi
if [ "$1" != postgres ]; then exec "$@"; fi

export PGDATA=${PGDATA:-/var/lib/postgresql/data}
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 0700 "$PGDATA"
  exec gosu postgres "$BASH_SOURCE" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  file_env POSTGRES_INITDB_ARGS
  auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$auth" != trust ]; then
    echo "Error: Database is uninitialized and superuser password is not specified." >&2
    echo "       Set POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE), or POSTGRES_HOST_AUTH_METHOD=trust." >&2
    exit 1
  fi
  mkdir -p "$PGDATA" && chmod 0700 "$PGDATA"
  pwfile=$(mktemp)
  printf '%s' "$POSTGRES_PASSWORD" >"$pwfile"
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of flags by contract
  initdb --username="$POSTGRES_USER" --pwfile="$pwfile" $POSTGRES_INITDB_ARGS >/dev/null
  rm -f "$pwfile"
  printf 'listen_addresses = '"'"'*'"'"'\n' >>"$PGDATA/postgresql.conf"
  printf 'host all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"
  # Temporary server on the socket only, for the database and the init scripts.
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  psql=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
  if [ "$POSTGRES_DB" != postgres ]; then
    "${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";' >/dev/null
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh) . "$f" ;;
      *.sql) "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
      *) ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo "PostgreSQL init process complete; ready for start up."
fi
exec "$@"
EOF
cat >"$work/postgres/Dockerfile" <<EOF
FROM $base_tag
# The alpine image's postgres user (70:70), made before the package so it keeps these ids.
RUN groupadd --system --gid 70 postgres \\
    && useradd --system --uid 70 --gid 70 --home-dir /var/lib/postgresql --shell /bin/bash postgres \\
    && apt-get update \\
    && apt-get install -y --no-install-recommends postgresql-15 gosu \\
    && rm -rf /var/lib/apt/lists/* /etc/postgresql/15/main /var/lib/postgresql/15 \\
    && mkdir -p /var/lib/postgresql/data /var/run/postgresql /docker-entrypoint-initdb.d \\
    && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql \\
    && chmod 1777 /var/lib/postgresql/data && chmod 3777 /var/run/postgresql
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    PGDATA=/var/lib/postgresql/data \\
    LANG=C.UTF-8
COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 0755 /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/postgresql/data
STOPSIGNAL SIGINT
EXPOSE 5432
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
EOF
build "$postgres_tag" "$(hash_of "$work/postgres" "$(cat "$work/postgres/entrypoint.sh")")" "$work/postgres"

# --- redis:7-alpine ----------------------------------------------------------------------
mkdir -p "$work/redis"
cat >"$work/redis/entrypoint.sh" <<'EOF'
#!/bin/sh
# The official image's command contract (see ci/base-images.sh): flags or a .conf go to
# redis-server, with protected mode off as the official build compiles it.
set -e
case "$1" in
  -* | *.conf) set -- redis-server "$@" ;;
esac
if [ "$1" = redis-server ]; then
  shift
  set -- redis-server --protected-mode no "$@"
fi
exec "$@"
EOF
cat >"$work/redis/Dockerfile" <<EOF
FROM $base_tag
# The alpine image's redis user and group (999:1000).
RUN groupadd --system --gid 1000 redis \\
    && useradd --system --uid 999 --gid 1000 --home-dir /data --shell /usr/sbin/nologin redis \\
    && apt-get update \\
    && apt-get install -y --no-install-recommends redis-server redis-tools \\
    && rm -rf /var/lib/apt/lists/* \\
    && mkdir -p /data && chown redis:redis /data
COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 0755 /usr/local/bin/docker-entrypoint.sh
VOLUME /data
WORKDIR /data
EXPOSE 6379
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["redis-server"]
EOF
build "$redis_tag" "$(hash_of "$work/redis" "$(cat "$work/redis/entrypoint.sh")")" "$work/redis"

# --- shaapi-ci/smtp-sink:bookworm (a test service, not a stand-in) -----------------------------
mkdir -p "$work/smtp-sink"
cat >"$work/smtp-sink/Dockerfile" <<EOF
FROM $base_tag
RUN apt-get update \\
    && apt-get install -y --no-install-recommends python3-aiosmtpd \\
    && rm -rf /var/lib/apt/lists/* \\
    && python3 -m aiosmtpd --version
USER 65534:65534
EXPOSE 587
EOF
build "$smtp_sink_tag" "$(hash_of "$work/smtp-sink")" "$work/smtp-sink"

echo "base-images: $rust_tag, $distroless_tag, $postgres_tag, $redis_tag, $smtp_sink_tag ready"
