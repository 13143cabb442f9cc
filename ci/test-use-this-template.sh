#!/usr/bin/env bash
# Test ci/use-this-template.sh the way GitHub runs it: on a fresh repository whose
# first commit is a copy of this template, named like a GitHub repository.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
repo=$work/My.Service

# The copy GitHub makes: every file of the template repository, one commit.
mkdir -p "$repo"
git -C "$root" ls-files -z --cached --others --exclude-standard \
  | (cd "$root" && xargs -0 cp --parents -t "$repo" 2>/dev/null || true)
git -C "$repo" init -q -b main
git -C "$repo" -c user.name=t -c user.email=t@example.invalid add -A
git -C "$repo" -c user.name=t -c user.email=t@example.invalid commit -q -m "Initial commit"

git -C "$repo" config user.name t
git -C "$repo" config user.email t@example.invalid
bash "$root/ci/use-this-template.sh" --name "My.Service" --commit "$repo"

fail() { echo "test-use-this-template: $*" >&2; exit 1; }
[ -d "$repo/.git" ] || fail ".git was not kept"
[ "$(git -C "$repo" rev-list --count HEAD)" = 2 ] || fail "expected the generation commit on top of the initial one"
[ -z "$(git -C "$repo" status --porcelain)" ] || fail "work tree not clean after --commit"
grep -q '^name = "my-service"' "$repo/Cargo.toml" || fail "project not named after the repository (my-service)"
[ ! -e "$repo/.github/workflows/use-this-template.yml" ] || fail "the workflow did not remove itself"
[ -f "$repo/.github/workflows/ci.yml" ] || fail "the generated project's CI workflow is missing"
bash "$root/ci/check-generated.sh" "$repo"

# The script refuses a folder that is not a copy of the template.
if bash "$root/ci/use-this-template.sh" "$work" 2>/dev/null; then fail "accepted a folder that is not the template"; fi
echo "test-use-this-template: ok"
