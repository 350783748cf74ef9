#!/usr/bin/env bash
# Install the npm packages (and with them the pinned Node 24) from package-lock.json.
# `npm ci` is tried first. Some registries (mirrors) lack the newest builds of other platforms'
# optional binaries (e.g. @astrojs/compiler-binding-darwin-arm64), so the lockfile cannot list them and
# `npm ci` refuses with "Missing: … from lock file"; `npm install` then installs the same locked
# versions for this platform and skips the unavailable optional ones.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! npm ci --no-audit --no-fund 2>/tmp/wharf-npm-ci.err; then
  if grep -q 'Missing: .* from lock file' /tmp/wharf-npm-ci.err; then
    echo "npm ci: registry lacks some other-platform optional packages; installing from the lockfile with npm install"
    npm install --no-audit --no-fund
  else
    cat /tmp/wharf-npm-ci.err >&2
    exit 1
  fi
fi
