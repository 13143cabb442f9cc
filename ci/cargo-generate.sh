#!/usr/bin/env bash
# Run cargo-generate 0.26.0, building it first if this machine does not have it.
#
# Why a wrapper: `cargo install cargo-generate --locked` needs rustc 1.97, and this
# project's machines ship rustc 1.95. The crate's own source builds on 1.95 once two
# dependencies are pinned back (see ../shared/DESIGN.md §3), so we do exactly that,
# once, into a cache folder, and link it into ~/.cargo/bin so `cargo generate` works.
#
# Usage: ci/cargo-generate.sh [cargo-generate arguments…]   (no arguments: install only)
set -euo pipefail

version=0.26.0
tools_root=${SHAAPI_TOOLS:-$HOME/.cache/shaapi/tools}
binary=$tools_root/bin/cargo-generate

installed_version() {
  "$binary" --version 2>/dev/null | awk '{print $NF}'
}

if [ "$(installed_version)" != "$version" ]; then
  echo "ci/cargo-generate.sh: building cargo-generate $version (once per machine)…" >&2
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  # The published source, through cargo itself (its registry, its checksums): a
  # throw-away package depending on exactly this version, fetched, then copied out
  # of cargo's source cache, which cargo metadata locates.
  mkdir -p "$work/fetch/src"
  printf '[package]\nname = "fetch-cargo-generate"\nversion = "0.0.0"\nedition = "2021"\npublish = false\n\n[dependencies]\ncargo-generate = "=%s"\n' \
    "$version" > "$work/fetch/Cargo.toml"
  : > "$work/fetch/src/lib.rs"
  host=$(rustc -vV | sed -n 's/^host: //p')
  CARGO_TARGET_DIR="$work/fetch/target" cargo fetch -q --manifest-path "$work/fetch/Cargo.toml" --target "$host"
  manifest=$(cargo metadata -q --format-version 1 --manifest-path "$work/fetch/Cargo.toml" \
    --filter-platform "$host" \
    | python3 -c 'import json, sys; print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"] == "cargo-generate"))')
  cp -R "$(dirname "$manifest")" "$work/cargo-generate-$version"
  chmod -R u+w "$work/cargo-generate-$version"
  (
    cd "$work/cargo-generate-$version"
    cargo update -q -p cargo-util-schemas --precise 0.14.0
    cargo update -q -p kstring --precise 2.0.2
    # Its own target dir: the shared one of the generated variants holds other profiles.
    # Fat LTO with one codegen unit (its release profile) triples the build time of
    # a tool we run a few times per CI run: trade that for a faster build.
    CARGO_TARGET_DIR="$tools_root/build" CARGO_PROFILE_RELEASE_LTO=false \
      CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
      cargo install -q --path . --locked --root "$tools_root"
  )
  rm -rf "$tools_root/build"
fi

mkdir -p "$HOME/.cargo/bin"
ln -sf "$binary" "$HOME/.cargo/bin/cargo-generate"

if [ "$#" -gt 0 ]; then
  # cargo-generate needs USER to fill `authors`; CI runners may not set it.
  export USER=${USER:-$(id -un)}
  # cargo-generate fails with a bare "No such file or directory" when the
  # --destination folder does not exist yet: create it.
  previous=""
  for arg in "$@"; do
    if [ "$previous" = --destination ]; then mkdir -p "$arg"; fi
    case "$arg" in --destination=*) mkdir -p "${arg#--destination=}" ;; esac
    previous=$arg
  done
  exec "$binary" generate "$@"
fi
