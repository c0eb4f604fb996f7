#!/usr/bin/env bash
# Make a local CPU base image without a registry: debootstrap a minimal Debian bookworm root
# filesystem with python3 and python3-venv and `podman import` it (needs root, debootstrap, podman and
# Debian's mirror). The host's CA bundle is copied in, so that builds behind a TLS-intercepting proxy
# can reach PyPI. Then: hack/build-images.sh --base localhost/zeroserve-base:bookworm TARGET
#   images/local-base.sh [TAG]   (default localhost/zeroserve-base:bookworm; ROOTFS=dir to keep the tree)
set -euo pipefail
TAG=${1:-localhost/zeroserve-base:bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
ROOTFS=${ROOTFS:-$(mktemp -d /tmp/zeroserve-rootfs.XXXXXX)}
for tool in debootstrap podman; do
  command -v "$tool" >/dev/null 2>&1 || { echo "local-base: $tool is missing (apt-get install $tool)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "local-base: debootstrap needs root" >&2; exit 1; }
began=$SECONDS
if [ ! -x "$ROOTFS/usr/bin/python3" ]; then
  echo "==> debootstrap bookworm (minbase + python3, python3-venv, ca-certificates) into $ROOTFS"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$ROOTFS" "$MIRROR" \
    >"$ROOTFS.log" 2>&1 || { tail -5 "$ROOTFS.log" >&2; exit 1; }
fi
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  cp /etc/ssl/certs/ca-certificates.crt "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
fi
tar -C "$ROOTFS" -c . | podman import - "$TAG" >/dev/null
echo "==> imported $TAG in $((SECONDS - began)) s ($(podman image inspect --format '{{.Size}}' "$TAG") bytes)"
