#!/usr/bin/env bash
# Check one generated project: fully rendered, nothing of the template repository
# leaked in, the origin file records every answer, and each toggle had its effect.
# Usage: ci/check-generated.sh PROJECT_DIR [-d key=value …]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
project=${1:?usage: check-generated.sh PROJECT_DIR [-d key=value …]}
shift
problems=0
problem() { echo "check-generated: $*" >&2; problems=$((problems + 1)); }

# A liquid error leaves a file unrendered without failing generation.
if leftovers=$(grep -rnI --exclude-dir=target --exclude-dir=.git -e '{{' -e '{%' "$project"); then
  problem "leftover template syntax:"; echo "$leftovers" >&2
fi

for path in shasec ci hooks template cargo-generate.toml .github/workflows/use-this-template.yml .env; do
  [ ! -e "$project/$path" ] || problem "template-only or local file reached the project: $path"
done
if grep -q '^# shaapi' "$project/README.md" 2>/dev/null; then
  problem "the template repository's README reached the project"
fi

origin=$project/.shaapi.toml
if [ ! -f "$origin" ]; then
  problem "origin file .shaapi.toml is missing"
else
  grep -Eq '^template_version = "[0-9]+\.[0-9]+\.[0-9]+"' "$origin" || problem "origin file has no template_version"
  for placeholder in $(python3 -c 'import sys,tomllib;print(" ".join(tomllib.load(open(sys.argv[1],"rb")).get("placeholders",{})))' "$root/cargo-generate.toml"); do
    grep -Eq "^\"?$placeholder\"? = " "$origin" || problem "origin file does not record the answer to '$placeholder'"
  done
fi

# Each toggle's effect: present when on, absent when off.
expect() { # expect TOGGLE VALUE PATH…
  local toggle=$1 value=$2; shift 2
  for path in "$@"; do
    if [ "$value" = true ] && [ ! -e "$project/$path" ]; then problem "$toggle=true but $path is missing"; fi
    if [ "$value" = false ] && [ -e "$project/$path" ]; then problem "$toggle=false but $path is present"; fi
  done
}
github_ci=true
prod=true
example_resource=true
monitoring=false
kubernetes=false
storage=true
while [ "$#" -gt 0 ]; do
  case "$1" in
    -d) case "$2" in github_ci=*) github_ci=${2#*=} ;; prod=*) prod=${2#*=} ;;
      example_resource=*) example_resource=${2#*=} ;; monitoring=*) monitoring=${2#*=} ;;
      kubernetes=*) kubernetes=${2#*=} ;; storage=*) storage=${2#*=} ;; esac; shift 2 ;;
    *) shift ;;
  esac
done
expect github_ci "$github_ci" .github/workflows/ci.yml
expect prod "$prod" compose.prod.yaml .env.prod.example deploy/README.md deploy/backup.sh \
  deploy/Caddyfile deploy/stack.yaml
expect monitoring "$monitoring" compose.monitoring.yaml monitoring/prometheus/prometheus.yml \
  monitoring/prometheus/alerts.yml monitoring/grafana/dashboards/api.json
expect kubernetes "$kubernetes" deploy/k8s/base/kustomization.yaml deploy/k8s/overlays/prod/kustomization.yaml
if [ "$prod" = false ] && [ "$kubernetes" = false ] && [ -e "$project/deploy" ]; then
  problem "prod=false and kubernetes=false but deploy/ is present"
fi
if [ "$monitoring" = false ] && grep -rnI --exclude-dir=target -i -e 'grafana' -e 'GRAFANA_' \
    "$project/src" "$project/tests" "$project/README.md" "$project/.env.example"; then
  problem "monitoring=false but the monitoring stack is still mentioned (above)"
fi
expect example_resource "$example_resource" src/http/articles src/entities/articles.rs \
  tests/articles.rs migration/src/m20250101_000005_create_articles.rs
if [ "$example_resource" = false ] && grep -rnI --exclude-dir=target -i -e 'articles' -e 'comments::' \
    "$project/src" "$project/migration" "$project/tests" "$project/README.md"; then
  problem "example_resource=false but the example resource is still mentioned (above)"
fi

expect storage "$storage" src/storage.rs src/files src/http/files src/entities/stored_files.rs \
  tests/files.rs migration/src/m20250401_000001_create_stored_files.rs
if [ "$storage" = false ]; then
  if grep -rnI --exclude-dir=target -i -e 'object_store' -e 'storage_url' -e 'STORAGE_' -e 'clamd' \
      -e 'stored_files' "$project" --exclude=Cargo.lock; then
    problem "storage=false but file storage is still mentioned (above)"
  fi
  if grep -Eq '^name = "(object_store|infer|multer)"' "$project/Cargo.lock"; then
    problem "storage=false but Cargo.lock still has its crates"
  fi
fi
[ "$problems" -eq 0 ] && echo "check-generated: $project is clean"
[ "$problems" -eq 0 ]
