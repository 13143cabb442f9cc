#!/usr/bin/env bash
# Peer comparison for shasec's compose rules: runs compose-lint (PyPI) and `shasec audit` on
# every compose fixture and prints, per file, which rules each raised (compose-lint: rule ids
# with the lines they point at; shasec: its rules for that file). shasec/README.md
# ("shasec and compose-lint") records what this showed. Informational: exits 0 when both ran.
#
# Usage: ci/compose-lint-oracle.sh   (from anywhere; installs compose-lint if absent)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
fixtures="$root/shasec/tests/fixtures"

bash "$root/ci/install-linters.sh" >/dev/null
compose-lint --version

cargo build --quiet --manifest-path "$root/Cargo.toml" -p shasec
shasec="$root/target/debug/shasec"

cd "$fixtures"
mapfile -t files < <(find . \( -name 'compose*.y*ml' -o -name 'docker-compose*.y*ml' \) -print | sed 's|^\./||' | sort)
for file in "${files[@]}"; do
    project="$(sed -E 's#^(golden-shop|[^/]+/(bad|good))/.*#\1#' <<<"$file")"
    relative="${file#"$project"/}"
    # compose-lint exits 1 on findings at --fail-on; that is an answer, not a failure.
    peer="$(compose-lint check --no-merge-overrides --format json --fail-on critical "$file" 2>/dev/null || true)"
    peer_rules="$(python3 -c 'import json,sys
try:
    findings = json.loads(sys.stdin.read() or "{}").get("findings", [])
except ValueError:
    findings = [{"rule_id": "(unparsable)", "line": 0}]
by_rule = {}
for f in findings:
    by_rule.setdefault(f["rule_id"], set()).add(str(f.get("line")))
print(" ".join(r + "@" + ",".join(sorted(l, key=lambda x: int(x) if x.isdigit() else 0)) for r, l in sorted(by_rule.items())) or "-")' <<<"$peer")"
    report="$("$shasec" audit --format json "$project")" || [ $? -eq 1 ]
    shasec_rules="$(python3 -c 'import json,sys
path = sys.argv[1]
by_rule = {}
for f in json.loads(sys.stdin.read())["findings"]:
    if f["location"]["path"] == path:
        by_rule.setdefault(f["rule"], set()).add(str(f["location"]["line"]))
print(" ".join(r + "@" + ",".join(sorted(l)) for r, l in sorted(by_rule.items())) or "-")' "$relative" <<<"$report")"
    printf '%s\n  compose-lint: %s\n  shasec:       %s\n' "$file" "$peer_rules" "$shasec_rules"
done
