#!/usr/bin/env bash
# The cloud-image tests' kernel: Debian's generic amd64 kernel (the package linux-image-amd64 points
# at), fetched with `apt-get download` (no root needed) and unpacked into CACHE_DIR (default
# .cache/cloud-kernel): CACHE_DIR/<package>/ holds boot/vmlinuz-<ver> and the lib/modules/<ver>
# modules a virtio disk with ext4 needs; CACHE_DIR/current names the package. Idempotent.
set -euo pipefail
cache=${1:-.cache/cloud-kernel}
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
  sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n1)
if [ -z "$pkg" ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  pkg=$(apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n1)
fi
[ -n "$pkg" ] || { echo "cloud-kernel: apt knows no linux-image-*-amd64" >&2; exit 1; }
mkdir -p "$cache"
if [ ! -f "$cache/$pkg/.complete" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && apt-get download -qq "$pkg" 2>/dev/null)
  rm -rf "${cache:?}/$pkg"
  mkdir -p "$cache/$pkg"
  # Only the kernel and the module directories the test initramfs draws from (the whole tree is ~400 MB).
  dpkg-deb --fsys-tarfile "$tmp"/"$pkg"_*.deb |
    tar -x -C "$cache/$pkg" --wildcards './boot/vmlinuz-*' './lib/modules/*/kernel/fs/*' \
      './lib/modules/*/kernel/drivers/virtio/*' './lib/modules/*/kernel/drivers/block/*' \
      './lib/modules/*/kernel/lib/*' './lib/modules/*/kernel/crypto/*'
  touch "$cache/$pkg/.complete"
fi
echo "$pkg" >"$cache/current"
echo "cloud-kernel: $cache/$pkg"
