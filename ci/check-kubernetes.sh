#!/usr/bin/env bash
# The Kubernetes manifests of a generated project (kubernetes toggle, issue 13 §4), offline:
#   - kustomize renders the base and the prod overlay (`kubectl kustomize`: kubectl ships
#     kustomize; the machine image has Debian's `kubectl` package, installed here if missing);
#   - kubernetes-validate --strict checks every rendered object against the API schemas of a
#     current Kubernetes (KUBERNETES_VERSION, default 1.35.0), rejecting unknown fields;
#   - checkov (its Kubernetes checks) on the rendered prod overlay: no failed check; a skip is
#     an annotation `checkov.io/skipN: CHECK=reason` with a YAML comment saying why, and a skip
#     without a reason fails here;
#   - no object of kind Secret anywhere: pods only reference the Secret.
# kubernetes-validate and checkov (pinned) live in a venv under ~/.cache/shaapi, made on first use.
# Usage: ci/check-kubernetes.sh PROJECT_DIR
set -euo pipefail

project=$(cd "${1:?usage: check-kubernetes.sh PROJECT_DIR}" && pwd)
k8s=$project/deploy/k8s
kubernetes_version=${KUBERNETES_VERSION:-1.35.0}
venv=${SHAAPI_CACHE:-$HOME/.cache/shaapi}/k8s-venv
fail() { echo "check-kubernetes: $*" >&2; exit 1; }
[ -f "$k8s/overlays/prod/kustomization.yaml" ] || fail "no deploy/k8s/overlays/prod/kustomization.yaml in $project"

if ! command -v kubectl >/dev/null; then
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubectl >/dev/null
fi
wanted="kubernetes-validate==1.37.0 checkov==3.3.30"
if ! "$venv/bin/pip" freeze 2>/dev/null | grep -qx 'checkov==3.3.30' \
    || ! "$venv/bin/pip" freeze 2>/dev/null | grep -qx 'kubernetes-validate==1.37.0'; then
  python3 -m venv "$venv"
  # shellcheck disable=SC2086 # two pinned requirement words
  "$venv/bin/pip" install -q --disable-pip-version-check $wanted
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/shaapi-k8s.XXXXXX")
trap 'rm -rf "$work"' EXIT
for layer in base overlays/prod; do
  out=$work/${layer//\//-}.yaml
  kubectl kustomize "$k8s/$layer" >"$out" || fail "kustomize cannot render deploy/k8s/$layer"
  "$venv/bin/kubernetes-validate" --strict --quiet -k "$kubernetes_version" "$out" \
    || fail "kubernetes-validate ($kubernetes_version, strict) rejects deploy/k8s/$layer"
done
rendered=$work/overlays-prod.yaml

python3 - "$rendered" <<'PY' || exit 1
import re, sys, yaml
documents = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
problems = []
kinds = sorted({d["kind"] for d in documents})
for required in ("Namespace", "Deployment", "Service", "Job", "ConfigMap", "HorizontalPodAutoscaler",
                 "PodDisruptionBudget", "NetworkPolicy", "Ingress"):
    if required not in kinds:
        problems.append(f"the prod overlay renders no {required}")
for document in documents:
    name = f"{document['kind']}/{document['metadata']['name']}"
    if document["kind"] == "Secret":
        problems.append(f"{name}: a Secret object in the manifests (reference it, create it out of git)")
    for key, value in (document["metadata"].get("annotations") or {}).items():
        if key.startswith("checkov.io/skip") and not re.fullmatch(r"CKV2?_K8S_\d+=\S.{9,}", value):
            problems.append(f"{name}: checkov skip {value!r} gives no reason")
for problem in problems:
    print("check-kubernetes:", problem, file=sys.stderr)
sys.exit(1 if problems else 0)
PY

# --skip-download: offline, no policy metadata fetched; the result is the same set of checks.
if ! "$venv/bin/checkov" --framework kubernetes --file "$rendered" --compact --quiet --skip-download \
    --output cli >"$work/checkov.txt" 2>"$work/checkov.err"; then
  cat "$work/checkov.txt" >&2
  fail "checkov reports failed checks on the rendered prod overlay"
fi
summary=$(grep -m1 'Passed checks' "$work/checkov.txt" || true)
[ -n "$summary" ] || { cat "$work/checkov.err" >&2; fail "checkov printed no result"; }
echo "check-kubernetes: kustomize renders base and prod; kubernetes-validate $kubernetes_version (strict) passes; checkov: $summary"
