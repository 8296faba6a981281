#!/usr/bin/env bash
# What `npm test` needs beyond node_modules, installed only when missing (npm runs this as `pretest`):
# Debian's TigerVNC Xvnc, xterm, twm and chromium (desktop and browser tests; never a downloaded
# browser), nginx (deploy/nginx.conf in front of replicas), systemd-analyze (deploy/hosting-panel.service),
# promtool (/metrics lint), curl and jq (the README walkthrough), and a real code-server in a cache outside the project (the IDE browser test).
# Usage: bash scripts/test-prerequisites.sh [--help]
set -euo pipefail
if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0; fi
cd "$(dirname "$0")/.."
missing=()
for pair in Xvnc:tigervnc-standalone-server xterm:xterm twm:twm chromium:chromium nginx:nginx systemd-analyze:systemd promtool:prometheus curl:curl jq:jq; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing Debian packages the tests need: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y "${missing[@]}" || { apt-get update && apt-get install -y "${missing[@]}"; }
fi
bash scripts/install-code-server.sh
