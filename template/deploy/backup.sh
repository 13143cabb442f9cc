#!/usr/bin/env bash
# Postgres backups: compressed pg_dump archives with retention by age.
#
#   backup.sh once     take one backup now, then prune old ones (default)
#   backup.sh daemon   take one backup now, then one every day at BACKUP_AT (UTC)
#   backup.sh check    exit non-zero unless the newest backup is younger than BACKUP_MAX_AGE_HOURS
#   backup.sh next     print the seconds until the next scheduled run
#
# Connection settings are libpq's own variables (PGHOST, PGPORT, PGUSER, PGPASSWORD,
# PGDATABASE), so the same script runs in the compose `backup` service and against any server.
#   BACKUP_DIR             where archives go (default /backups), with backup.prom (Prometheus
#                          text format: time and size of the newest archive)
#   BACKUP_RETENTION_DAYS  archives older than this are deleted after a successful backup (default 14)
#   BACKUP_AT              daily run time, HH:MM in UTC (default 03:15)
#   BACKUP_MAX_AGE_HOURS   `check` fails when the newest archive is older (default 26)
#   BACKUP_RUN_AS          when started as root, own BACKUP_DIR and continue as this user
set -euo pipefail

BACKUP_DIR="${BACKUP_DIR:-/backups}"
BACKUP_RETENTION_DAYS="${BACKUP_RETENTION_DAYS:-14}"
BACKUP_AT="${BACKUP_AT:-03:15}"
BACKUP_MAX_AGE_HOURS="${BACKUP_MAX_AGE_HOURS:-26}"
# Retry a failed daily backup this many seconds later instead of waiting a whole day.
RETRY_AFTER_SECONDS=900

log() { printf '%s backup: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
die() { log "error: $*" >&2; exit 1; }

require_positive_integer() {
    local name="$1" value="$2"
    [[ "$value" =~ ^[1-9][0-9]*$ ]] || die "$name must be a positive whole number, got '$value'"
}

validate_settings() {
    require_positive_integer BACKUP_RETENTION_DAYS "$BACKUP_RETENTION_DAYS"
    require_positive_integer BACKUP_MAX_AGE_HOURS "$BACKUP_MAX_AGE_HOURS"
    [[ "$BACKUP_AT" =~ ^([01][0-9]|2[0-3]):[0-5][0-9]$ ]] \
        || die "BACKUP_AT must be HH:MM (00:00 to 23:59, UTC), got '$BACKUP_AT'"
    [[ -n "${PGDATABASE:-}" ]] || die "PGDATABASE is not set: name the database to back up"
}

# Containers start as root so a fresh volume or bind mount can be handed to BACKUP_RUN_AS;
# archives are then written (and read by `check`) as that unprivileged user, never as root.
drop_privileges() {
    local run_as="${BACKUP_RUN_AS:-}"
    [[ -n "$run_as" && "$(id -u)" == 0 ]] || return 0
    id "$run_as" >/dev/null 2>&1 || die "BACKUP_RUN_AS user '$run_as' does not exist"
    local switch_user
    switch_user="$(command -v su-exec || command -v gosu || true)"
    [[ -n "$switch_user" ]] || die "BACKUP_RUN_AS is set but neither su-exec nor gosu is installed"
    mkdir -p "$BACKUP_DIR"
    chown "$run_as" "$BACKUP_DIR"
    # Listable by others (`ops checklist` in the api container reads the archives' age);
    # each archive itself is 0600.
    chmod 0755 "$BACKUP_DIR"
    exec "$switch_user" "$run_as" bash "$0" "$@"
}

newest_backup() {
    local newest=""
    local file
    for file in "$BACKUP_DIR"/"$PGDATABASE"-*.dump; do
        [[ -f "$file" ]] || continue
        if [[ -z "$newest" || "$file" -nt "$newest" ]]; then newest="$file"; fi
    done
    printf '%s' "$newest"
}

take_backup() {
    umask 077
    mkdir -p "$BACKUP_DIR"
    local stamp target partial
    stamp="$(date -u +%Y%m%dT%H%M%SZ)"
    target="$BACKUP_DIR/$PGDATABASE-$stamp.dump"
    partial="$target.partial"
    # Custom format is compressed and lets restore.sh use pg_restore --clean.
    if ! pg_dump --format=custom --compress=6 --no-password --file="$partial"; then
        rm -f "$partial"
        log "error: pg_dump of '$PGDATABASE' on ${PGHOST:-local socket} failed" >&2
        return 1
    fi
    # An archive pg_restore cannot list is useless: never let it replace good backups.
    if ! pg_restore --list "$partial" >/dev/null; then
        rm -f "$partial"
        log "error: the archive written for '$PGDATABASE' is unreadable; discarded" >&2
        return 1
    fi
    mv "$partial" "$target"
    log "wrote $target ($(wc -c <"$target") bytes)"
    write_metrics "$target"
    prune_old_backups "$target"
}

# The newest archive's time and size in Prometheus' text format, BACKUP_DIR/backup.prom: the
# monitoring stack's textfile exporter serves it, and an alert fires when it grows old. Written
# whole then renamed, so a scrape never reads half a file; readable by the exporter (no secret).
write_metrics() {
    local archive="$1" partial="$BACKUP_DIR/backup.prom.partial"
    {
        printf '# HELP backup_last_success_timestamp_seconds Unix time of the newest pg_dump archive.\n'
        printf '# TYPE backup_last_success_timestamp_seconds gauge\n'
        printf 'backup_last_success_timestamp_seconds{database="%s"} %s\n' "$PGDATABASE" "$(date -u +%s)"
        printf '# HELP backup_last_size_bytes Size of the newest pg_dump archive.\n'
        printf '# TYPE backup_last_size_bytes gauge\n'
        printf 'backup_last_size_bytes{database="%s"} %s\n' "$PGDATABASE" "$(wc -c <"$archive")"
    } >"$partial"
    chmod 0644 "$partial"
    mv "$partial" "$BACKUP_DIR/backup.prom"
}

# Runs only after a successful backup, so pruning can never leave zero archives.
prune_old_backups() {
    local keep="$1" file removed=0
    local max_age_minutes=$((BACKUP_RETENTION_DAYS * 24 * 60))
    while IFS= read -r file; do
        [[ "$file" == "$keep" ]] && continue
        rm -f -- "$file"
        removed=$((removed + 1))
        log "removed $file (older than $BACKUP_RETENTION_DAYS days)"
    done < <(find "$BACKUP_DIR" -maxdepth 1 -type f \
        \( -name "$PGDATABASE-*.dump" -o -name "$PGDATABASE-*.dump.partial" \) \
        -mmin "+$max_age_minutes")
    log "retention: $removed archive(s) older than $BACKUP_RETENTION_DAYS days removed"
}

seconds_until_next_run() {
    local hour minute now_h now_m now_s
    hour="${BACKUP_AT%%:*}"
    minute="${BACKUP_AT##*:}"
    read -r now_h now_m now_s < <(date -u '+%H %M %S')
    # 10# forces base ten: "08" would otherwise be read as an invalid octal number.
    local now=$((10#$now_h * 3600 + 10#$now_m * 60 + 10#$now_s))
    local target=$((10#$hour * 3600 + 10#$minute * 60))
    local wait_seconds=$(((target - now + 86400) % 86400))
    if ((wait_seconds == 0)); then wait_seconds=86400; fi
    printf '%s' "$wait_seconds"
}

check_recent_backup() {
    local newest
    newest="$(newest_backup)"
    [[ -n "$newest" ]] || die "no backup of '$PGDATABASE' in $BACKUP_DIR"
    local max_age_minutes=$((BACKUP_MAX_AGE_HOURS * 60))
    if [[ -n "$(find "$newest" -mmin "+$max_age_minutes")" ]]; then
        die "newest backup $newest is older than $BACKUP_MAX_AGE_HOURS hours"
    fi
    log "ok: newest backup is $newest"
}

run_daemon() {
    # sleep runs in the background so `docker stop` (SIGTERM) ends the wait at once.
    trap 'log "stopping"; exit 0' TERM INT
    local pause
    while true; do
        if take_backup; then
            pause="$(seconds_until_next_run)"
        else
            pause="$RETRY_AFTER_SECONDS"
            log "retrying in $pause seconds" >&2
        fi
        log "next backup in $pause seconds"
        sleep "$pause" &
        wait $!
    done
}

main() {
    local mode="${1:-once}"
    case "$mode" in
        once | daemon | check | next) ;;
        -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
        *) die "unknown mode '$mode' (expected once, daemon, check or next)" ;;
    esac
    validate_settings
    case "$mode" in
        once) drop_privileges "$@"; take_backup ;;
        daemon) drop_privileges "$@"; run_daemon ;;
        check) drop_privileges "$@"; check_recent_backup ;;
        next) seconds_until_next_run; printf '\n' ;;
    esac
}

main "$@"
