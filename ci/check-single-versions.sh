#!/usr/bin/env bash
# Fail when the generated project's lock holds two versions of sea-orm or sqlx.
set -euo pipefail
project=${1:?usage: check-single-versions.sh PROJECT_DIR}
dupes=$(cargo tree --manifest-path "$project/Cargo.toml" --workspace -d --prefix depth --locked \
  | grep -E '^0(sea-orm|sqlx)[a-z-]* v' || true)
if [ -n "$dupes" ]; then
  echo "check-single-versions: duplicated in Cargo.lock:" >&2
  echo "$dupes" >&2
  exit 1
fi
echo "check-single-versions: one sea-orm and one sqlx"
