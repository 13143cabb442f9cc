#!/usr/bin/env bash
# The real servers the generated files tests start themselves: clamd and sigtool (Debian's
# clamav-daemon; the tests make their own signature database, nothing is downloaded from
# ClamAV) and an S3-compatible server (moto's server mode, from PyPI, in a venv under
# ~/.cache/shaapi/tools). moto installs in seconds, where `cargo install s3s-fs` compiles
# for minutes. Idempotent: what is there already is kept.
set -euo pipefail

tools=${SHAAPI_TOOLS_DIR:-$HOME/.cache/shaapi/tools}
mkdir -p "$tools"

if ! command -v clamd >/dev/null 2>&1 && [ ! -x /usr/sbin/clamd ]; then
  echo "install-test-servers: installing clamav-daemon (apt)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq -o DPkg::Lock::Timeout=300 clamav-daemon clamav >/dev/null
fi

moto=$tools/moto-venv/bin/moto_server
if [ ! -x "$moto" ]; then
  echo "install-test-servers: installing moto[server] (pip, venv $tools/moto-venv)" >&2
  python3 -m venv "$tools/moto-venv"
  "$tools/moto-venv/bin/pip" install -q 'moto[server]'
fi

echo "install-test-servers: clamd $(/usr/sbin/clamd --version | cut -d/ -f1), $("$moto" --help >/dev/null && echo moto_server) ready" >&2
