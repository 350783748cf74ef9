#!/usr/bin/env bash
# Stop what scripts/setup/start.sh started in the background: the daemon (when started with
# WHARF_DAEMON=background), podman's Docker API and the local registry, each by its pid file under
# $WHARF_STATE_DIR/run (default .wharf/run). Data (catalog, keys, images) is kept.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUN="${WHARF_STATE_DIR:-$PWD/.wharf}/run"
for name in daemon podman registry; do
  f="$RUN/$name.pid"
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    echo "stopped $name (pid $pid)"
  fi
  rm -f "$f"
done
