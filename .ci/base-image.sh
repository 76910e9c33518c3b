#!/usr/bin/env bash
# Print the name of a local base image for the Dockerfile, building a
# stand-in when the official one is not available.
#
#   BASE_IMAGE=$(.ci/base-image.sh)
#
# The CI machine cannot reach an image registry. When $WANTED (the
# Dockerfile's default, python:3.11-slim) is present locally it is used.
# Otherwise a Debian bookworm image with Debian's python3 (3.11) and
# python3-venv is made with debootstrap and `docker import`ed as $STANDIN;
# an existing $STANDIN is reused, so this costs ~90 s once per machine.
# Progress goes to stderr; only the image name goes to stdout.
set -euo pipefail

WANTED=${WANTED:-python:3.11-slim}
STANDIN=${STANDIN:-stockpile-base:bookworm-python3}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm

say() { echo "base-image: $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

if docker image inspect "$WANTED" >/dev/null 2>&1; then
    say "using $WANTED (present locally)"
    echo "$WANTED"
    exit 0
fi
if docker image inspect "$STANDIN" >/dev/null 2>&1; then
    say "$WANTED is not present locally; reusing the stand-in $STANDIN"
    echo "$STANDIN"
    exit 0
fi

say "$WANTED is not present locally and no registry is reachable; building the stand-in $STANDIN"
[ "$(id -u)" = 0 ] || fail "debootstrap needs root"
if ! command -v debootstrap >/dev/null 2>&1; then
    say "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; } \
        || fail "cannot install debootstrap"
fi

rootfs=$(mktemp -d /var/tmp/stockpile-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
started=$SECONDS
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    "$SUITE" "$rootfs" "$MIRROR" > "$rootfs.log" 2>&1 \
    || { tail -n 30 "$rootfs.log" >&2; fail "debootstrap failed (log: $rootfs.log)"; }
rm -f "$rootfs.log"
# Keep the stand-in close to the slim image: no apt lists, no docs.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
       "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*

# An imported tarball has no environment: give it the PATH and locale that
# the official image has, so the Dockerfile works the same on both.
tar -C "$rootfs" --numeric-owner -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    --message "debootstrap --variant=minbase $SUITE + python3, python3-venv (stand-in for $WANTED)" \
    - "$STANDIN" >/dev/null
say "built $STANDIN in $((SECONDS - started)) s: $(docker image inspect "$STANDIN" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}'), python $(docker run --rm "$STANDIN" python3 -c 'import sys; print(sys.version.split()[0])')"
echo "$STANDIN"
