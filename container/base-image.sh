#!/usr/bin/env bash
# Make a local Debian 12 base image for builds where no base image can be pulled (CI, air-gapped hosts):
# debootstrap (minbase + python3, python3-venv, ca-certificates) and `docker import`. Python 3.11 is already
# in it, so an image build on top needs no apt and no network. The root filesystem is cached as a tarball in
# container/.cache/ (gitignored), so a second run only imports it.
#
#   container/base-image.sh [TAG]          default TAG: embed-base:bookworm
#
# Needs root and debootstrap (apt-get install debootstrap) on the first run; DEBIAN_MIRROR overrides the mirror.
set -euo pipefail
# shellcheck source=container/lib.sh
source "$(dirname "$0")/lib.sh"

tag=${1:-embed-base:bookworm}
suite=bookworm
packages=python3,python3-venv,ca-certificates
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
tarball=$CACHE_DIR/rootfs-$suite-${packages//,/-}.tar

if docker image inspect "$tag" >/dev/null 2>&1; then
  log "base image: $tag already present"
  exit 0
fi

if [[ ! -s $tarball ]]; then
  [[ $(id -u) -eq 0 ]] || die "debootstrap needs root (or put a rootfs tarball at $tarball)"
  command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install -y debootstrap)"
  mkdir -p "$CACHE_DIR"
  rootfs=$(mktemp -d "$CACHE_DIR/rootfs.XXXXXX")
  trap 'rm -rf "$rootfs"' EXIT
  start=$(now)
  log "base image: debootstrap $suite ($packages) from $mirror"
  debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$CACHE_DIR/debootstrap.log" 2>&1 \
    || { tail -20 "$CACHE_DIR/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE_DIR/debootstrap.log)"; }
  # Package caches and docs are not needed in a base image.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
         "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
  tar -C "$rootfs" --numeric-owner -cf "$tarball.part" .
  mv "$tarball.part" "$tarball"
  log "base image: rootfs cached at $tarball ($(du -sh "$tarball" | cut -f1), $(elapsed "$start") s)"
fi

# An imported image has no environment: give it the usual PATH, or `ENV PATH=/opt/venv/bin:${PATH}` breaks.
docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["/bin/bash"]' \
  - "$tag" <"$tarball" >/dev/null
log "base image: imported $tag ($(docker image inspect --format '{{.Size}}' "$tag" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
