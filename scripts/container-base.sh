#!/usr/bin/env bash
# Makes sure the base image of deploy/Containerfile exists in podman's
# store: uses it if present, pulls it if a registry answers, and otherwise
# builds it from Debian's archive with debootstrap (Debian 12 "bookworm",
# minbase, from the archive this host's apt already uses; about a minute).
#
# Usage: scripts/container-base.sh [<image>]   (default docker.io/library/debian:12-slim)
# Needs root, podman and debootstrap (scripts/container-test.sh installs them).
set -euo pipefail
IMAGE="${1:-docker.io/library/debian:12-slim}"

if podman image exists "$IMAGE"; then
  echo "container-base: $IMAGE is present"
  exit 0
fi
if timeout 60 podman pull --quiet "$IMAGE" >/dev/null 2>&1; then
  echo "container-base: pulled $IMAGE"
  exit 0
fi

# The archive apt is configured with, as apt itself reports it (never a
# hard-coded host): the sites of bookworm's main component, in the order
# apt lists them.
# shellcheck disable=SC2016  # $(SITE) is apt's placeholder, not the shell's
mapfile -t sources < <(apt-get indextargets --format '$(SITE) $(CODENAME)' \
  'Identifier: Packages' 'Component: main' 'Origin: Debian' |
  awk '$2 ~ /^bookworm(-updates|-security)?$/' | sort -u)
mirror=""
for line in "${sources[@]}"; do
  read -r site codename <<<"$line"
  if [[ "$codename" == bookworm ]]; then mirror="$site"; fi
done
if [[ -z "$mirror" ]]; then
  echo "container-base: apt has no source for Debian bookworm main;" \
    "cannot build $IMAGE (apt-get indextargets lists none)" >&2
  exit 1
fi

ROOTFS="$(mktemp -d)"
trap 'rm -rf "$ROOTFS"' EXIT
echo "container-base: no $IMAGE here or in a registry;" \
  "building it with debootstrap from $mirror"
if ! debootstrap --variant=minbase bookworm "$ROOTFS" "$mirror" \
    >"$ROOTFS.log" 2>&1; then
  tail -n 20 "$ROOTFS.log" >&2
  rm -f "$ROOTFS.log"
  echo "container-base: debootstrap failed" >&2
  exit 1
fi
rm -f "$ROOTFS.log"

# The same sources inside, and what Debian's own slim images leave out:
# downloaded packages, package lists, documentation and translations.
for line in "${sources[@]}"; do
  read -r site codename <<<"$line"
  echo "deb $site $codename main"
done >"$ROOTFS/etc/apt/sources.list"
cat >"$ROOTFS/etc/dpkg/dpkg.cfg.d/slim" <<'SLIM'
# As in Debian's slim images: no documentation or translations.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
SLIM
cat >"$ROOTFS/etc/apt/apt.conf.d/slim" <<'SLIM'
APT::Install-Recommends "false";
Acquire::Languages "none";
SLIM
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* \
  "$ROOTFS"/var/log/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* \
  "$ROOTFS"/usr/share/locale/*
find "$ROOTFS/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
tar -C "$ROOTFS" --numeric-owner -c . |
  podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' - "$IMAGE" >/dev/null
echo "container-base: built $IMAGE ($(podman image inspect --format '{{.Size}}' "$IMAGE") bytes)"
