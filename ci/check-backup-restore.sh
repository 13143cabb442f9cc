#!/usr/bin/env bash
# The backup and restore scripts of a generated project, run for real against the local
# Postgres (PGHOST/PGPORT/PGUSER, default 127.0.0.1:5432 user postgres, trust auth):
#   seed data -> deploy/backup.sh once -> drop the database -> deploy/restore.sh latest
#   -> the same rows; plus retention by age, the freshness check, and bad input (unreachable
#   server, corrupt archive, missing confirmation) changing nothing.
# Usage: ci/check-backup-restore.sh PROJECT_DIR
set -euo pipefail

project=$(cd "${1:?usage: check-backup-restore.sh PROJECT_DIR}" && pwd)
backup="$project/deploy/backup.sh"
restore="$project/deploy/restore.sh"
if [ ! -f "$backup" ] || [ ! -f "$restore" ]; then
  echo "check-backup-restore: no deploy/backup.sh or deploy/restore.sh in $project" >&2
  exit 1
fi

export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
database="shaapi_backup_test_$$_$RANDOM"
export PGDATABASE=$database
work=$(mktemp -d "${TMPDIR:-/tmp}/shaapi-backup.XXXXXX")
export BACKUP_DIR=$work/backups
unset BACKUP_RUN_AS
cleanup() {
  dropdb --if-exists --maintenance-db=postgres "$database" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

checks=0
failures=0
exec 3>&2 # failures are reported here even when a command's own output is redirected
assert() { # assert DESCRIPTION COMMAND… — the command must succeed
  local description=$1; shift
  checks=$((checks + 1))
  "$@" || { echo "check-backup-restore: FAILED: $description" >&3; failures=$((failures + 1)); }
}
refute() { # refute DESCRIPTION COMMAND… — the command must fail
  local description=$1; shift
  checks=$((checks + 1))
  ! "$@" || { echo "check-backup-restore: FAILED: $description" >&3; failures=$((failures + 1)); }
}
psql_q() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$@"; }
# A digest of every row, so "same rows" compares values, NULLs and order-independent content.
fingerprint() {
  psql_q -c "SELECT count(*) || ':' || md5(string_agg(t::text, '|' ORDER BY t.id)) FROM (SELECT id, label, amount, tags, created FROM items) t;
             SELECT last_value FROM items_id_seq;"
}

createdb --maintenance-db=postgres "$database"
psql_q <<'SQL'
CREATE TABLE items (id serial PRIMARY KEY, label text, amount numeric(12,2), tags text[], created timestamptz NOT NULL DEFAULT now());
INSERT INTO items (label, amount, tags) VALUES
  ('plain', 1.50, ARRAY['a']), ('unicode: é ü 漢字 🚀', NULL, ARRAY[]::text[]),
  ($$it's "quoted" \ back$$, -42.00, NULL), (NULL, 0, ARRAY['x','y']);
INSERT INTO items (label, amount) SELECT 'bulk ' || n, n FROM generate_series(1, 500) AS n;
CREATE INDEX items_label ON items (label);
SQL
before=$(fingerprint)

# Backup: one archive, private, readable by pg_restore.
assert "backup.sh once succeeds" bash "$backup" once >"$work/backup.log" 2>&1
archives=("$BACKUP_DIR"/"$database"-*.dump)
assert "exactly one archive written" test "${#archives[@]}" -eq 1 -a -f "${archives[0]}"
assert "archive is mode 0600" test "$(stat -c %a "${archives[0]}")" = 600
assert "no partial file left" test -z "$(find "$BACKUP_DIR" -name '*.partial')"
assert "check passes with a fresh archive" bash "$backup" check >/dev/null 2>&1
# backup.prom: the newest archive's time (now) and size, in a format Prometheus accepts.
metrics_file=$BACKUP_DIR/backup.prom
fresh_metrics() {
  local stamp size
  stamp=$(sed -n "s/^backup_last_success_timestamp_seconds{database=\"$database\"} //p" "$metrics_file")
  size=$(sed -n "s/^backup_last_size_bytes{database=\"$database\"} //p" "$metrics_file")
  [ -n "$stamp" ] && [ $(( $(date +%s) - stamp )) -lt 120 ] && [ "$size" = "$(wc -c <"${archives[0]}")" ]
}
assert "backup.prom gives the archive's time and size" fresh_metrics
assert "backup.prom is readable by the exporter (0644)" test "$(stat -c %a "$metrics_file")" = 644
if command -v promtool >/dev/null; then
  assert "promtool accepts backup.prom" promtool check metrics <"$metrics_file"
fi

# Retention: an archive older than BACKUP_RETENTION_DAYS goes, a younger one stays, and
# another database's archive is never touched.
old="$BACKUP_DIR/$database-20000101T000000Z.dump"
recent="$BACKUP_DIR/$database-20000102T000000Z.dump"
foreign="$BACKUP_DIR/otherdb-20000101T000000Z.dump"
cp "${archives[0]}" "$old"; cp "${archives[0]}" "$recent"; cp "${archives[0]}" "$foreign"
touch -d '20 days ago' "$old" "$foreign"
touch -d '3 days ago' "$recent"
assert "second backup with 14-day retention succeeds" \
  env BACKUP_RETENTION_DAYS=14 bash "$backup" once >>"$work/backup.log" 2>&1
assert "20-day-old archive removed" test ! -e "$old"
assert "3-day-old archive kept" test -e "$recent"
assert "other database's archive kept" test -e "$foreign"
rm -f "$foreign"
rm -f "$BACKUP_DIR"/*.dump
touch -d '30 hours ago' "$recent"
refute "check fails when the newest archive is 30 hours old" bash "$backup" check >/dev/null 2>&1
assert "backup after pruning everything else" bash "$backup" once >>"$work/backup.log" 2>&1

# Bad input: unreachable server and invalid settings fail and leave no partial file.
files_before=$(find "$BACKUP_DIR" -name '*.dump*' | wc -l)
refute "backup against a closed port fails" env PGPORT=1 bash "$backup" once >/dev/null 2>&1
assert "failed backup leaves no new file" test "$(find "$BACKUP_DIR" -name '*.dump*' | wc -l)" -eq "$files_before"
refute "BACKUP_RETENTION_DAYS=0 refused" env BACKUP_RETENTION_DAYS=0 bash "$backup" once >/dev/null 2>&1
refute "BACKUP_AT=25:00 refused" env BACKUP_AT=25:00 bash "$backup" next >/dev/null 2>&1
refute "unknown mode refused" bash "$backup" sometimes >/dev/null 2>&1
next_run=$(bash "$backup" next)
assert "next run is within a day ($next_run s)" test "$next_run" -ge 1 -a "$next_run" -le 86400

# Restore after losing the whole database.
dropdb --maintenance-db=postgres "$database"
refute "restore refuses without --yes when not interactive" bash "$restore" latest </dev/null >/dev/null 2>&1
assert "the refused restore created nothing" \
  test -z "$(psql_q -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$database'")"
assert "restore --yes latest succeeds" bash "$restore" --yes latest </dev/null >"$work/restore.log" 2>&1
assert "same rows after restore" test "$(fingerprint)" = "$before"
assert "index restored" test "$(psql_q -c "SELECT count(*) FROM pg_indexes WHERE indexname = 'items_label'")" = 1

# Restore over an existing database replaces changed data.
psql_q -c "DELETE FROM items WHERE id > 10; UPDATE items SET label = 'tampered' WHERE id = 1;"
assert "restore over a live database succeeds" bash "$restore" --yes latest </dev/null >>"$work/restore.log" 2>&1
assert "same rows after restoring over changes" test "$(fingerprint)" = "$before"

# A corrupt or missing archive changes nothing.
printf 'PGDMP but not really' >"$work/corrupt.dump"
psql_q -c "INSERT INTO items (label) VALUES ('written after the backup')"
changed=$(fingerprint)
refute "corrupt archive refused" bash "$restore" --yes "$work/corrupt.dump" </dev/null >/dev/null 2>&1
assert "database unchanged after a refused restore" test "$(fingerprint)" = "$changed"
refute "missing archive refused" bash "$restore" --yes "$work/nope.dump" </dev/null >/dev/null 2>&1

if [ "$failures" -gt 0 ]; then
  echo "check-backup-restore: $failures of $checks checks failed; last log lines:" >&2
  tail -n 20 "$work"/*.log >&2 2>/dev/null || true
  exit 1
fi
echo "check-backup-restore: $checks checks passed (backup, retention, restore, bad input)"
