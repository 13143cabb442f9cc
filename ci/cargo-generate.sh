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
  curl -sSfL --retry 3 -o "$work/cg.crate" \
    "https://static.crates.io/crates/cargo-generate/cargo-generate-$version.crate"
  tar -xzf "$work/cg.crate" -C "$work"
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
