#!/usr/bin/env bash
# Make sure a Docker engine answers `docker info`, starting one if needed.
#
# CI machines have the docker client but no engine. As root this installs
# Debian's docker.io when dockerd is missing, starts dockerd in the
# background (logs in $DOCKERD_LOG) and waits for it, at most
# $DOCKERD_WAIT_S seconds. No engine at the end is a failure, never a skip.
set -euo pipefail

DOCKERD_LOG=${DOCKERD_LOG:-/var/log/stockpile-ci-dockerd.log}
DOCKERD_WAIT_S=${DOCKERD_WAIT_S:-60}

say() { echo "docker-engine: $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

if docker info >/dev/null 2>&1; then
    say "an engine is already running ($(docker info --format '{{.ServerVersion}}' 2>/dev/null))"
    exit 0
fi

[ "$(id -u)" = 0 ] || fail "no Docker engine answers and starting one needs root; start dockerd and retry"

if ! command -v dockerd >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || fail "dockerd is not installed and apt-get is not available to install it"
    say "installing Debian's docker.io (dockerd, containerd, runc)"
    # Installing must not try to start services (there is no init system here):
    # a temporary policy-rc.d refuses, and we start dockerd ourselves below.
    own_policy=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        own_policy=1
    fi
    trap 'if [ -n "$own_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi' EXIT
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends docker.io >/dev/null
    command -v dockerd >/dev/null 2>&1 || fail "apt-get installed docker.io but dockerd is not on PATH"
fi

# A stale pid file from a dead daemon stops a new one from starting.
if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    rm -f /var/run/docker.pid
fi

if pgrep -x dockerd >/dev/null 2>&1; then
    say "dockerd is running but not answering yet; waiting for it"
else
    say "starting dockerd (logs: $DOCKERD_LOG)"
    mkdir -p "$(dirname "$DOCKERD_LOG")"
    # setsid: the daemon outlives this script and is not in make's process group.
    setsid dockerd >>"$DOCKERD_LOG" 2>&1 < /dev/null &
fi

deadline=$((SECONDS + DOCKERD_WAIT_S))
until docker info >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
        say "last lines of $DOCKERD_LOG:"
        tail -n 30 "$DOCKERD_LOG" >&2 || true
        fail "dockerd did not answer within ${DOCKERD_WAIT_S}s"
    fi
    if ! pgrep -x dockerd >/dev/null 2>&1; then
        say "last lines of $DOCKERD_LOG:"
        tail -n 30 "$DOCKERD_LOG" >&2 || true
        fail "dockerd exited during start-up"
    fi
    sleep 1
done
say "engine ready: server $(docker info --format '{{.ServerVersion}}'), storage $(docker info --format '{{.Driver}}')"
