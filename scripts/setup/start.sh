#!/usr/bin/env bash
# Quick start: install what Wharf needs on a Debian/Ubuntu machine and start it on embedded defaults:
# openEuler's application images imported (upstream when reachable, else the shipped sample), the marketplace built and served on a
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
# The recipe repository: openEuler's upstream when it is reachable (a shallow fetch of its HEAD),
# otherwise the 40-app sample shipped in catalog/seed/ (same layout, MulanPSL-2.0). Says which.
UPSTREAM="${WHARF_RECIPES_URL:-https://gitee.com/openeuler/openeuler-docker-images.git}"
if timeout 20 git ls-remote --exit-code "$UPSTREAM" HEAD >/dev/null 2>&1; then
  echo "recipes: importing the upstream repository $UPSTREAM"
  wharf catalog import "$UPSTREAM" || {
    echo "recipes: the upstream import failed; importing the shipped sample catalog/seed/openeuler-images instead"
    wharf catalog import catalog/seed/openeuler-images
  }
else
  echo "recipes: $UPSTREAM is not reachable; importing the shipped 40-app sample catalog/seed/openeuler-images"
  wharf catalog import catalog/seed/openeuler-images
fi
wharf catalog validate
wharf site build
echo
echo "Marketplace: http://127.0.0.1:${PORT}/   (Ctrl-C stops Wharf)"
exec node scripts/wharf.mjs daemon --site-port "$PORT"
