#!/usr/bin/env bash
# Restore a backup written by deploy/backup.sh into the database named by PGDATABASE.
#
#   restore.sh [--yes] FILE|latest
#
# Connection settings are libpq's own variables (PGHOST, PGPORT, PGUSER, PGPASSWORD,
# PGDATABASE); `latest` picks the newest archive for PGDATABASE in BACKUP_DIR (default /backups).
# The database is created when missing; existing objects in the archive are replaced. The whole
# restore runs in one transaction: if anything fails, the database is left as it was.
# Stop the API first (docker compose stop api) so nothing writes while the data is replaced.
set -euo pipefail

BACKUP_DIR="${BACKUP_DIR:-/backups}"

log() { printf '%s restore: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
die() { log "error: $*" >&2; exit 1; }
usage() { sed -n '2,11p' "$0"; }

newest_backup() {
    local newest="" file
    for file in "$BACKUP_DIR"/"$PGDATABASE"-*.dump; do
        [[ -f "$file" ]] || continue
        if [[ -z "$newest" || "$file" -nt "$newest" ]]; then newest="$file"; fi
    done
    printf '%s' "$newest"
}

confirm() {
    local archive="$1" answer
    [[ -t 0 ]] || die "refusing to replace '$PGDATABASE' without confirmation: pass --yes"
    read -r -p "Replace the contents of database '$PGDATABASE' on ${PGHOST:-local socket} with $archive? [y/N] " answer
    [[ "$answer" == y || "$answer" == Y || "$answer" == yes ]] || die "aborted; nothing changed"
}

database_exists() {
    # Passed as a psql variable so an unusual database name cannot break out of the literal.
    local found
    found="$(psql --no-password --no-psqlrc --dbname=postgres --tuples-only --no-align \
        --set=ON_ERROR_STOP=1 --set=target="$PGDATABASE" \
        <<<"SELECT 1 FROM pg_database WHERE datname = :'target';")"
    [[ "$found" == 1 ]]
}

main() {
    local assume_yes=false archive=""
    while (($# > 0)); do
        case "$1" in
            -y | --yes) assume_yes=true ;;
            -h | --help) usage; exit 0 ;;
            -*) die "unknown option '$1'" ;;
            *) [[ -z "$archive" ]] || die "only one archive can be restored at a time"; archive="$1" ;;
        esac
        shift
    done
    [[ -n "${PGDATABASE:-}" ]] || die "PGDATABASE is not set: name the database to restore into"
    [[ -n "$archive" ]] || { usage >&2; die "name an archive or 'latest'"; }

    if [[ "$archive" == latest ]]; then
        archive="$(newest_backup)"
        [[ -n "$archive" ]] || die "no backup of '$PGDATABASE' in $BACKUP_DIR"
    fi
    [[ -f "$archive" ]] || die "no such archive: $archive"
    [[ -r "$archive" ]] || die "cannot read $archive (run as the user that owns the backups, e.g. docker compose exec -u postgres backup ...)"
    # Validate before touching the database: a truncated or foreign file must change nothing.
    pg_restore --list "$archive" >/dev/null 2>&1 \
        || die "$archive is not a readable pg_dump custom-format archive; nothing changed"

    [[ "$assume_yes" == true ]] || confirm "$archive"

    local created=false
    if ! database_exists; then
        log "database '$PGDATABASE' does not exist; creating it"
        createdb --no-password --maintenance-db=postgres -- "$PGDATABASE"
        created=true
    fi
    if ! pg_restore --no-password --dbname="$PGDATABASE" --clean --if-exists --no-owner --no-privileges \
        --single-transaction --exit-on-error "$archive"; then
        # Leave no half-made database behind: one we created is dropped again.
        [[ "$created" == false ]] || dropdb --no-password --maintenance-db=postgres -- "$PGDATABASE"
        die "pg_restore failed; the transaction was rolled back and '$PGDATABASE' is unchanged"
    fi
    log "restored $archive into '$PGDATABASE'"
}

main "$@"
