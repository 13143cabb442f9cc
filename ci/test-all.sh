#!/usr/bin/env bash
# The whole test suite: the command the README gives and .ci/run calls.
#
# 1. local PostgreSQL + Redis answer (started if not), tools installed;
# 2. shasec: fmt, clippy, tests;
# 3. the template: generation checks (name validation, "Use this template"),
#    then every variant — defaults, every toggle off, every toggle on — generated,
#    checked for leftovers, formatted, linted and tested, sharing one target dir;
# 4. the closed loop on the default project: audit and probe;
# 5. the default project's containers: image, compose stacks, Docker Swarm (ci/test-stack.sh,
#    ci/test-swarm.sh), on the Docker engine ci/docker.sh installs and starts.
#
# Environment: SHAAPI_TARGET_DIR (shared target dir of the generated variants),
# SHAAPI_KEEP=1 keeps the generated projects, SHAAPI_CONTAINERS=0 skips step 5 (for quick local
# loops only: CI runs it).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 2
export USER=${USER:-$(id -un)}
export CARGO_TERM_COLOR=never
shared_target=${SHAAPI_TARGET_DIR:-$HOME/.cache/shaapi/target}
work=$(mktemp -d "${TMPDIR:-/tmp}/shaapi-ci.XXXXXX")
[ "${SHAAPI_KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT

passed=0
failed=0
failures=()
started=$(date +%s)

# step NAME COMMAND… — run one check, record its outcome, keep going.
step() {
  local name=$1; shift
  local t0; t0=$(date +%s)
  echo "::: $name"
  if "$@"; then
    passed=$((passed + 1))
    echo "::: ok   $name ($(( $(date +%s) - t0 ))s)"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "::: FAIL $name ($(( $(date +%s) - t0 ))s)"
  fi
}

finish() {
  echo
  echo "shaapi test suite finished in $(( $(date +%s) - started ))s"
  for f in "${failures[@]+"${failures[@]}"}"; do echo "  failed: $f"; done
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit $?
}

# --- 1. machine ---------------------------------------------------------------
step "services: PostgreSQL and Redis answer" bash ci/services.sh || finish
step "tools: cargo-generate 0.26.0" bash ci/cargo-generate.sh || finish
step "tools: linters (shellcheck, hadolint, actionlint)" bash ci/install-linters.sh
# clamd and an S3 server for the files tests: in CI a test that cannot find them fails
# instead of skipping.
step "tools: clamd and an S3 server (ci/install-test-servers.sh)" bash ci/install-test-servers.sh
export SHAAPI_REQUIRE_TEST_SERVERS=1
run_containers=${SHAAPI_CONTAINERS:-1}
if [ "$run_containers" != 0 ]; then
  step "tools: Docker engine and Compose v2 (ci/docker.sh)" bash ci/docker.sh
fi

step "ci scripts: shellcheck" shellcheck -S warning ci/*.sh .ci/run
step "ci: metric-name checker's own tests (fixture exposition)" python3 -m unittest ci/metric_names_test.py
# About 1 s: this repository's workflows and its shasec composite action.
step "workflows: actionlint (this repository)" bash ci/actionlint.sh "$root"

# --- 2. shasec ----------------------------------------------------------------
step "shasec: cargo fmt --check" cargo fmt --all --check
step "shasec: cargo clippy -D warnings" cargo clippy --workspace --all-targets --locked -- -D warnings
step "shasec: cargo test" cargo test --workspace --locked
step "shasec: agrees with hadolint where the README says so" bash ci/hadolint-oracle.sh
# The debug build `cargo test` just made: a release build (rustls + aws-lc) costs
# minutes of CI for checks that take about a second.
step "shasec: build" cargo build --locked -p shasec
shasec_bin=$root/target/debug/shasec

# --- 3. template ----------------------------------------------------------------
step "template: project names are validated" bash ci/test-project-names.sh
step "template: --git and interactive generation" bash ci/test-generation-forms.sh
step "template: rustfmt-clean whatever the project name" bash ci/check-fmt-names.sh
step "template: 'Use this template' generates in place" bash ci/test-use-this-template.sh

# variant NAME -d k=v … — generate, check, lint and test one variant.
variant() {
  local label=$1; shift
  local dest=$work/$label
  step "[$label] generate" ci/cargo-generate.sh --path "$root" --name demo --silent --vcs none \
    --destination "$dest" "$@" || return
  local project=$dest/demo
  step "[$label] generated output is clean" bash ci/check-generated.sh "$project" "$@"
  step "[$label] shasec audit: only the expected findings" \
    bash ci/check-audit-generated.sh "$project" "$shasec_bin" "$@"
  if [ -d "$project/.github" ]; then
    step "[$label] workflows: actionlint" bash ci/actionlint.sh "$project"
  fi
  step "[$label] container and prod artifacts (hadolint, shellcheck, compose)" \
    bash ci/check-prod-artifacts.sh "$project"
  if [ -d "$project/monitoring" ]; then
    # About 2 s of promtool, then one debug build (shared target) and a 5 s run of the app.
    step "[$label] monitoring: promtool config, rules, rule tests, metric names vs /metrics" \
      env CARGO_TARGET_DIR="$shared_target" bash ci/check-monitoring.sh "$project"
  fi
  if [ -d "$project/deploy/k8s" ]; then
    # About 20 s: kustomize, kubernetes-validate and checkov (first run installs them, ~1 min).
    step "[$label] kubernetes: kustomize, kubernetes-validate, checkov" bash ci/check-kubernetes.sh "$project"
  fi
  if [ -f "$project/deploy/backup.sh" ]; then
    step "[$label] backup and restore against local Postgres" bash ci/check-backup-restore.sh "$project"
  fi
  step "[$label] cargo fmt --check" cargo fmt --manifest-path "$project/Cargo.toml" --all --check
  step "[$label] one sea-orm, one sqlx" bash ci/check-single-versions.sh "$project"
  step "[$label] cargo clippy -D warnings" env CARGO_TARGET_DIR="$shared_target" \
    cargo clippy --manifest-path "$project/Cargo.toml" --workspace --all-targets --locked -- -D warnings
  step "[$label] cargo test" env CARGO_TARGET_DIR="$shared_target" \
    cargo test --manifest-path "$project/Cargo.toml" --workspace --locked
  # The contract once, on the default variant (the toggles do not change the API): about
  # 3.5 minutes on 2 cores, most of it schemathesis; its first run also installs it (~1 min).
  # The scaffold once, on the default variant: generate resources in a copy, then fmt, clippy
  # and their tests (ci/test-scaffold.sh).
  if [ "$label" = defaults ]; then
    step "[$label] generate resource: fmt, clippy, tests of the output" \
      env CARGO_TARGET_DIR="$shared_target" bash ci/test-scaffold.sh "$project"
  fi
  if [ "$label" = defaults ]; then
    step "[$label] schemathesis --checks all: anonymous, user, admin" \
      env CARGO_TARGET_DIR="$shared_target" bash ci/schemathesis.sh "$project"
  fi
}

# defaults, every toggle off, every toggle on (monitoring and kubernetes default to off);
# ci/toggles.py derives the answer sets from cargo-generate.toml and dedupes them.
mapfile -t variants < <(python3 ci/toggles.py cargo-generate.toml)
for line in "${variants[@]}"; do
  read -r label answers <<<"$line"
  # shellcheck disable=SC2086 # answers are "-d key=value" words by design
  variant "$label" $answers </dev/null
done

# --- 4. the closed loop -----------------------------------------------------------
if [ -x ci/loop.sh ] && [ -d "$work/defaults/demo" ]; then
  step "loop: audit and probe the default project" \
    env CARGO_TARGET_DIR="$shared_target" bash ci/loop.sh "$work/defaults/demo" "$shasec_bin"
fi

# --- 5. containers, for real, on the default project -----------------------------------------
# The image from the project's Dockerfile (its layer cache is shared by both steps and by the
# next run on this machine), the compose stacks following deploy/README.md, then Docker Swarm.
# Measured on 2 cores shared with ~8 other builds (load 13-17), so CI alone is faster: Docker
# install 37 s; base images 236 s cold (+38 s the SMTP sink), 1 s warm; the image 4260 s cold
# (cargo-chef 344 s, dependencies 2905 s, the app 1007 s), 2 s cached; the stack test 248 s.
# CI's budget is 90 minutes: a cold image build needs about 30 of them on an idle 2-core machine,
# so past SHAAPI_CONTAINERS_START_BY seconds (default 50 minutes) the containers are not started,
# and the image build gets only what is left of the budget (minus 10 minutes for the stacks).
elapsed=$(( $(date +%s) - started ))
budget=${SHAAPI_BUDGET_SECS:-5400}
start_by=${SHAAPI_CONTAINERS_START_BY:-3000}
if [ "$run_containers" = 0 ]; then
  echo "::: NOT RUN containers (image, stacks, Swarm): SHAAPI_CONTAINERS=0 (${elapsed}s spent so far)"
elif [ "$elapsed" -gt "$start_by" ]; then
  echo "::: NOT RUN containers (image, stacks, Swarm): ${elapsed}s spent, past SHAAPI_CONTAINERS_START_BY=${start_by}s of the ${budget}s budget"
elif [ -d "$work/defaults/demo" ]; then
  step "containers: base-image stand-ins (ci/base-images.sh)" bash ci/base-images.sh "$work/defaults/demo"
  build_limit=$(( budget - ($(date +%s) - started) - 600 ))
  step "containers: image, dev and prod stacks, mail, drills, backups (ci/test-stack.sh)" \
    env STACK_BUILD_LIMIT="$build_limit" bash ci/test-stack.sh "$work/defaults/demo" "$shasec_bin"
  # Swarm needs IPVS in the kernel (service VIPs, routing mesh); some VMs' kernels lack it.
  if [ -e /proc/net/ip_vs ] || modprobe ip_vs 2>/dev/null; then
    step "containers: Docker Swarm stack, rolling update (ci/test-swarm.sh)" \
      bash ci/test-swarm.sh "$work/defaults/demo"
  else
    echo "::: NOT RUN containers: Docker Swarm stack (ci/test-swarm.sh): this kernel has no IPVS (ip_vs)"
  fi
  step "containers: cleanup leaves only images (ci/docker.sh cleanup)" bash ci/docker.sh cleanup
else
  step "containers: the default project was generated" false
fi

finish
