#!/usr/bin/env bash
# The pre hook must refuse bad project names with a one-line message that says
# what to type instead, and accept good ones.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

generate() { # generate NAME — prints cargo-generate's output, returns its status
  "$root/ci/cargo-generate.sh" --path "$root" --name "$1" --silent --vcs none \
    --destination "$work/out" 2>&1
}

expect_refused() { # expect_refused NAME EXPECTED-WORDS
  local output
  if output=$(generate "$1"); then
    echo "FAIL: '$1' was accepted"; failures=$((failures + 1)); return
  fi
  if ! grep -q -- "$2" <<<"$output" || ! grep -q -- "--name" <<<"$output"; then
    echo "FAIL: '$1' refused without the expected message ('$2' + a suggestion):"
    echo "$output" | tail -5
    failures=$((failures + 1)); return
  fi
  echo "ok: '$1' refused: $(grep -o -- "$2.*" <<<"$output" | head -1)"
}

expect_refused "1password" "starts with a digit"
expect_refused "fn" "is a Rust keyword"
expect_refused "async" "is a Rust keyword"
expect_refused "std" "is reserved"
expect_refused "test" "is reserved"
expect_refused "migration" "is reserved"

# An empty name is caught by the init hook, before cargo-generate derives a folder from it.
expect_refused "" "project name is empty"
expect_refused "  " "project name is empty"

# The description lands in TOML as a literal multi-line string: three quotes would end it early.
if output=$("$root/ci/cargo-generate.sh" --path "$root" --name quoted --silent --vcs none \
    --destination "$work/out" -d "description=it'''s broken" 2>&1); then
  echo "FAIL: a description with three quotes was accepted"; failures=$((failures + 1))
elif grep -q "description may not contain three single quotes" <<<"$output"; then
  echo "ok: description with three quotes refused"
else
  echo "FAIL: description with three quotes refused without the expected message:"; echo "$output" | tail -3
  failures=$((failures + 1))
fi

# The generated CI names the shasec action OWNER/REPO after template_repository.
shasec_action() { # shasec_action URL — the `uses:` line of the generated CI, or the refusal
  rm -rf "$work/repo-out"
  "$root/ci/cargo-generate.sh" --path "$root" --name repo-check --silent --vcs none \
    --destination "$work/repo-out" -d "template_repository=$1" 2>&1 \
    && grep -ho 'uses: .*shasec.*' "$work/repo-out/repo-check/.github/workflows/ci.yml"
}
for case in "https://github.com/acme/api-kit|uses: acme/api-kit/.github/actions/shasec@main" \
    "git@github.com:acme/api.kit.git|uses: acme/api.kit/.github/actions/shasec@main" \
    "https://gitlab.com/a/b/c|is not a repository URL of the form"; do
  url=${case%%|*} expected=${case#*|}
  output=$(shasec_action "$url")
  if grep -qF -- "$expected" <<<"$output"; then echo "ok: template_repository $url: $expected"
  else echo "FAIL: template_repository $url did not give '$expected'"; failures=$((failures + 1)); fi
done

if output=$(generate "good-name"); then
  if [ -f "$work/out/good-name/Cargo.toml" ]; then echo "ok: 'good-name' generated"
  else echo "FAIL: 'good-name' produced no project"; failures=$((failures + 1)); fi
else
  echo "FAIL: 'good-name' was refused:"; echo "$output" | tail -5; failures=$((failures + 1))
fi

[ "$failures" -eq 0 ]
