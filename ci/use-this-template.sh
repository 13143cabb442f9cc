#!/usr/bin/env bash
# Generate a shaapi project *in place* in a repository created with GitHub's
# "Use this template": the repository's contents (a copy of the template) are
# replaced by the generated project; `.git` is kept.
#
# Usage: ci/use-this-template.sh [--name NAME] [--commit] [-d key=value …] [REPO_DIR]
#   --name     project name (default: the folder's name), normalised to a crate name
#   --commit   commit the result ("Generate project from the shaapi template")
#   -d k=v     template answers, passed to cargo-generate (defaults otherwise)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
name=""
commit=false
defines=()
repo_dir=.

while [ "$#" -gt 0 ]; do
  case "$1" in
    --name) name=${2:?--name needs a value}; shift 2 ;;
    --commit) commit=true; shift ;;
    -d) defines+=(-d "${2:?-d needs key=value}"); shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    -*) echo "use-this-template: unknown option $1" >&2; exit 2 ;;
    *) repo_dir=$1; shift ;;
  esac
done

repo_dir=$(cd "$repo_dir" && pwd)
if [ ! -f "$repo_dir/cargo-generate.toml" ] || [ ! -d "$repo_dir/template" ]; then
  echo "use-this-template: $repo_dir is not a copy of the shaapi template (no cargo-generate.toml + template/)" >&2
  exit 2
fi

# GitHub repository names allow capitals and dots; crate names do not.
[ -n "$name" ] || name=$(basename "$repo_dir")
name=$(printf '%s' "$name" | tr '[:upper:]' '[:lower:]' | sed -e 's/[^a-z0-9_-]/-/g' -e 's/^-*//' -e 's/-*$//')
case "$name" in
  "") name=app ;;
  [0-9]*) name="app-$name" ;;
esac

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Generate from a clean export of the tracked files, so that local leftovers
# (target/, .env) never reach the project.
src=$out/template-source
mkdir -p "$src"
if git -C "$repo_dir" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git -C "$repo_dir" ls-files -z --cached --others --exclude-standard | (cd "$repo_dir" && xargs -0 cp --parents -t "$src")
else
  cp -a "$repo_dir"/. "$src"/
  rm -rf "$src/.git"
fi

"$here/cargo-generate.sh" --path "$src" --name "$name" --silent --vcs none \
  --destination "$out/generated" "${defines[@]}"

generated=$out/generated/$name
[ -f "$generated/Cargo.toml" ] || { echo "use-this-template: generation produced no project" >&2; exit 1; }

# Replace everything but .git with the generated project.
find "$repo_dir" -mindepth 1 -maxdepth 1 ! -name .git -exec rm -rf {} +
cp -a "$generated"/. "$repo_dir"/

if $commit; then
  git -C "$repo_dir" add -A
  git -C "$repo_dir" commit -q -m "Generate project from the shaapi template"
fi
echo "use-this-template: generated project '$name' in $repo_dir"
