#!/usr/bin/env bash
# shasec audit on a freshly generated project must report exactly the expected
# dev-only findings: the CHANGE_ME placeholders of .env.prod.example (low: an
# example file) when the prod toggle is on, nothing at all otherwise — and pass
# the `--fail-on high` gate the generated CI workflow runs.
# Usage: ci/check-audit-generated.sh PROJECT_DIR SHASEC_BIN [-d key=value …]
set -euo pipefail
project=${1:?usage: check-audit-generated.sh PROJECT_DIR SHASEC_BIN [-d k=v …]}
shasec=${2:?usage: check-audit-generated.sh PROJECT_DIR SHASEC_BIN [-d k=v …]}
shift 2
prod=true
while [ "$#" -gt 0 ]; do
  case "$1" in -d) case "$2" in prod=*) prod=${2#*=} ;; esac; shift 2 ;; *) shift ;; esac
done

report=$(mktemp)
trap 'rm -f "$report"' EXIT
"$shasec" audit "$project" --format json --fail-on high --output "$report" \
  || { echo "check-audit-generated: the --fail-on high gate failed on a fresh project" >&2; "$shasec" audit "$project" >&2 || true; exit 1; }

python3 - "$report" "$prod" <<'PY'
import json, sys
report, prod = json.load(open(sys.argv[1])), sys.argv[2] == "true"
found = [(f["rule"], f["severity"], f["location"]["path"]) for f in report["findings"]]
if prod:
    expected_kind = ("SHA001", "low", ".env.prod.example")
    unexpected = [f for f in found if f != expected_kind]
    ok = found and not unexpected
    why = f"expected only {expected_kind} (the placeholders the guard refuses), got {found}"
else:
    ok, why = not found, f"expected no finding without prod artifacts, got {found}"
if not ok:
    print("check-audit-generated:", why, file=sys.stderr)
    sys.exit(1)
print(f"check-audit-generated: {len(found)} expected finding(s): {sorted(set(found))}")
PY
