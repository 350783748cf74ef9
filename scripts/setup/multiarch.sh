#!/usr/bin/env bash
# Multi-arch builds and their tests: make arm64 (and amd64 on an arm64 host) runnable through
# qemu-user-static, and fetch a static busybox for each arch (the multi-arch test fixture).
# Idempotent; needs root (or sudo) for binfmt_misc and apt. Usage: multiarch.sh [CACHE_DIR]
# (default .cache/arches): leaves CACHE_DIR/<arch>/busybox for amd64 and arm64.
set -euo pipefail
cache=${1:-.cache/arches}
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
binfmt=/proc/sys/fs/binfmt_misc
[ -e "$binfmt/status" ] || $SUDO mount -t binfmt_misc binfmt_misc "$binfmt"
case "$(dpkg --print-architecture)" in
  amd64) native=amd64 foreign=arm64 qemu=qemu-aarch64 ;;
  arm64) native=arm64 foreign=amd64 qemu=qemu-x86_64 ;;
  *) echo "multiarch: unsupported host $(dpkg --print-architecture)" >&2; exit 1 ;;
esac
grep -qx enabled "$binfmt/$qemu" 2>/dev/null || $SUDO update-binfmts --enable "$qemu"
mkdir -p "$cache/$native" "$cache/$foreign"
[ -x "$cache/$native/busybox" ] || install -m 0755 /bin/busybox "$cache/$native/busybox"
if [ ! -x "$cache/$foreign/busybox" ]; then
  dpkg --print-foreign-architectures | grep -qx "$foreign" || {
    $SUDO dpkg --add-architecture "$foreign"
    $SUDO apt-get update -qq
  }
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -qq "busybox-static:$foreign" 2>/dev/null ||
    { $SUDO apt-get update -qq && apt-get download -qq "busybox-static:$foreign"; })
  dpkg-deb -x "$tmp"/busybox-static_*_"$foreign".deb "$tmp/x"
  install -m 0755 "$tmp/x/bin/busybox" "$cache/$foreign/busybox"
  rm -rf "$tmp"
fi
echo "multiarch: native $native, $foreign via $qemu; busybox in $cache"
