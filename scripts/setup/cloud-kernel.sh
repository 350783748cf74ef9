#!/usr/bin/env bash
# The cloud-image tests' kernels: Debian's generic kernels (the packages linux-image-amd64 and
# linux-image-arm64 point at), fetched with `apt-get download` (no root needed once apt knows the
# arch) and unpacked into CACHE_DIR (default .cache/cloud-kernel):
# - amd64: CACHE_DIR/<package>/ holds boot/vmlinuz-<ver> and the lib/modules/<ver> modules a virtio
#   disk with ext4 needs; CACHE_DIR/current names the package.
# - arm64: the same under CACHE_DIR/arm64/ (CACHE_DIR/arm64/current), plus
#   CACHE_DIR/arm64/systemd-bootaa64.efi from systemd-boot-efi:arm64 (the host's systemd-boot-efi is
#   the amd64 one).
# Idempotent: a package already unpacked (its .complete is there) is not fetched again.
set -euo pipefail
cache=${1:-.cache/cloud-kernel}
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# apt must know the foreign arch's packages (multiarch.sh does this too; CI runs it first).
native=$(dpkg --print-architecture)
for a in amd64 arm64; do
  [ "$a" = "$native" ] && continue
  dpkg --print-foreign-architectures | grep -qx "$a" || {
    $SUDO dpkg --add-architecture "$a"
    $SUDO apt-get update -qq
  }
done

# The versioned kernel package linux-image-<arch> depends on (apt-cache prints ":<arch>" for a foreign one).
kernel_package() {
  apt-cache depends "linux-image-$1:$1" 2>/dev/null |
    sed -n "s/^ *Depends: \(linux-image-[0-9][^ :]*-$1\)\(:$1\)\?\$/\1/p" | head -n1
}

# fetch_kernel ARCH DEST: DEST/<package>/{boot/vmlinuz-<ver>,lib/modules/<ver>/...} and DEST/current.
fetch_kernel() {
  local arch=$1 dest=$2 pkg
  pkg=$(kernel_package "$arch")
  if [ -z "$pkg" ]; then
    $SUDO apt-get update -qq
    pkg=$(kernel_package "$arch")
  fi
  [ -n "$pkg" ] || { echo "cloud-kernel: apt knows no linux-image-*-$arch" >&2; exit 1; }
  mkdir -p "$dest"
  if [ ! -f "$dest/$pkg/.complete" ]; then
    mkdir -p "$tmp/$arch"
    (cd "$tmp/$arch" && apt-get download -qq "$pkg:$arch" 2>/dev/null)
    rm -rf "${dest:?}/$pkg"
    mkdir -p "$dest/$pkg"
    # Only the kernel and the module directories the test initramfs draws from (the whole tree is ~400 MB).
    dpkg-deb --fsys-tarfile "$tmp/$arch"/"$pkg"_*.deb |
      tar -x -C "$dest/$pkg" --wildcards './boot/vmlinuz-*' './lib/modules/*/kernel/fs/*' \
        './lib/modules/*/kernel/drivers/virtio/*' './lib/modules/*/kernel/drivers/block/*' \
        './lib/modules/*/kernel/lib/*' './lib/modules/*/kernel/crypto/*'
    touch "$dest/$pkg/.complete"
  fi
  echo "$pkg" >"$dest/current"
  echo "cloud-kernel: $arch kernel in $dest/$pkg"
}

fetch_kernel amd64 "$cache"
fetch_kernel arm64 "$cache/arm64"

# systemd-boot for arm64 (the test image's EFI/BOOT/BOOTAA64.EFI).
sdboot="$cache/arm64/systemd-bootaa64.efi"
if [ ! -s "$sdboot" ]; then
  mkdir -p "$tmp/sdboot"
  (cd "$tmp/sdboot" && apt-get download -qq "systemd-boot-efi:arm64" 2>/dev/null)
  dpkg-deb -x "$tmp"/sdboot/systemd-boot-efi_*_arm64.deb "$tmp/sdboot/x"
  install -m 0644 "$tmp/sdboot/x/usr/lib/systemd/boot/efi/systemd-bootaa64.efi" "$sdboot.tmp"
  mv "$sdboot.tmp" "$sdboot"
fi
echo "cloud-kernel: arm64 systemd-boot in $sdboot"
