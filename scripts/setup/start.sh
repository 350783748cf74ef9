#!/usr/bin/env bash
# Quick start: install what Wharf needs on a Debian/Ubuntu machine and start it on embedded defaults:
# the seed catalog (openEuler's application images) imported, the marketplace built and served on a
# loopback port, and the daemon running (watch, pipeline, rescans, site rebuilds, event delivery).
# Without a container engine or Trivy it says what it skips and how to add them.
set -euo pipefail
cd "$(dirname "$0")/../.."
PORT="${WHARF_PORT:-8080}"
export WHARF_CATALOG="${WHARF_CATALOG:-$PWD/.wharf/catalog}"

bash scripts/setup/install-system.sh
[ -x node_modules/.bin/node ] || bash scripts/setup/install-npm.sh
export PATH="$PWD/node_modules/.bin:$PATH"

wharf() { node scripts/wharf.mjs "$@"; }

wharf doctor || true
wharf catalog init
wharf catalog import catalog/seed/openeuler-images
wharf catalog validate
wharf site build
echo
echo "Marketplace: http://127.0.0.1:${PORT}/   (Ctrl-C stops Wharf)"
exec node scripts/wharf.mjs daemon --site-port "$PORT"
