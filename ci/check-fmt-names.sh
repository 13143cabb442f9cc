#!/usr/bin/env bash
# Generated code must be rustfmt-clean whatever the project is called: a crate path
# such as `{{crate_name}}::x::y` inside an expression reflows with the name's length.
# Formatting needs no build, so this is cheap; the variants test the name "demo".
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
# 64 characters: the longest name crates.io accepts.
for name in ab a-project-name-of-sixty-four-characters-the-most-crates-io-allow; do
  "$root/ci/cargo-generate.sh" --path "$root" --name "$name" --silent --vcs none \
    --destination "$work" >/dev/null 2>&1
  if cargo fmt --manifest-path "$work/$name/Cargo.toml" --all --check >"$work/$name.diff" 2>&1; then
    echo "check-fmt-names: '$name' is rustfmt-clean"
  else
    echo "check-fmt-names: '$name' is not rustfmt-clean:" >&2
    head -40 "$work/$name.diff" >&2
    status=1
  fi
done
exit $status
