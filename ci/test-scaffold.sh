#!/usr/bin/env bash
# `generate resource` in a copy of a generated project: the scaffold's output must be
# rustfmt-clean as written, pass clippy -D warnings and its own tests, and fit the framework's
# route-access and OpenAPI checks.
#
# Usage: ci/test-scaffold.sh PROJECT_DIR
# Environment: CARGO_TARGET_DIR (share the variants' target dir: only the app crate, and with
# a decimal field sea-orm's rust_decimal support, are rebuilt).
set -euo pipefail

project=${1:?usage: test-scaffold.sh PROJECT_DIR}
project=$(cd "$project" && pwd)
copy=$(mktemp -d "${TMPDIR:-/tmp}/shaapi-scaffold.XXXXXX")
trap 'rm -rf "$copy"' EXIT
# The copy keeps the project's name (and so its binary and crate names); no target dir.
mkdir -p "$copy/$(basename "$project")"
copy=$copy/$(basename "$project")
tar -C "$project" --exclude=./target --exclude=./data -cf - . | tar -C "$copy" -xf -
cd "$copy"

t0=$(date +%s)
# Every type and both options; then a minimal resource, without them.
cargo run --quiet -- generate resource book title:string summary:text pages:int published:bool \
  isbn:uuid released:datetime price:decimal --owned --soft-delete
cargo run --quiet -- generate resource note done:bool
# Names at the length limit (20 characters, the plural too), to hold the output to rustfmt's widths.
cargo run --quiet -- generate resource shipment_line_item \
  estimated_delivery_x:datetime declared_value_total:decimal package_weight_grams:int --owned
echo "test-scaffold: generated in $(( $(date +%s) - t0 ))s"

cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --test books --test notes --test shipment_line_items --test access_control --test openapi
echo "test-scaffold: ok in $(( $(date +%s) - t0 ))s"
