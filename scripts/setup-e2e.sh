#!/usr/bin/env bash
# Installs the browser tests' npm packages (playwright-core, pinned in package-lock.json) into
# web-client/e2e/node_modules. Chromium itself comes from Debian (scripts/setup-system.sh).
# Quick when already installed for the current lock file.
set -euo pipefail
cd "$(dirname "$0")/../web-client/e2e"
if [ -f node_modules/.package-lock.json ] && cmp -s package-lock.json node_modules/.gavel-lock; then
  echo "e2e: npm packages present"
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
cp package-lock.json node_modules/.gavel-lock
echo "e2e: npm packages installed"
