#!/usr/bin/env bash
# Build the service image and test the running container.
#
#   scripts/container.sh build IMAGE BASE_IMAGE   # docker build from wheels/, print size and start-up time
#   scripts/container.sh test IMAGE [PYTEST ARGS] # run IMAGE on a free loopback port, run tests/integration
#
# `make image` and `make test-container` call this. STOCKPILE_* variables in
# the environment are passed to the container (e.g. STOCKPILE_WORKERS=2).
# Every container started here is removed on exit, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${VENV_PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
HEALTH_WAIT_S=${HEALTH_WAIT_S:-60}
READY_WAIT_S=${READY_WAIT_S:-120}

say() { echo "container: $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

docker info >/dev/null 2>&1 || fail "no Docker engine answers 'docker info'; start dockerd (CI: .ci/docker-engine.sh)"

# Wait until URL answers 200; fail early if the container stops.
# Prints the seconds elapsed since START (an $EPOCHREALTIME value).
wait_200() {
    local cid=$1 url=$2 limit=$3 start=$4
    "$PY" - "$cid" "$url" "$limit" "$start" <<'PYEOF'
import subprocess, sys, time, urllib.request
cid, url, limit, start = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
deadline = time.monotonic() + limit
checked = time.monotonic()
while True:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            if r.status == 200:
                print(f"{time.time() - start:.2f}")
                sys.exit(0)
    except Exception:
        pass
    now = time.monotonic()
    if now > deadline:
        sys.exit(f"{url} did not answer 200 within {limit:g} s")
    if now - checked > 1:
        checked = now
        state = subprocess.run(["docker", "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", cid],
                               capture_output=True, text=True).stdout.strip()
        if not state.startswith("running"):
            sys.exit(f"the container stopped before {url} answered (state: {state or 'gone'})")
    time.sleep(0.05)
PYEOF
}

CID=
cleanup() {
    if [ -n "$CID" ]; then docker rm -f "$CID" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Start IMAGE on a free loopback port; sets CID, URL, HEALTH_S, READY_S.
start() {
    local image=$1 t0 port envs=()
    for v in $(compgen -e | grep '^STOCKPILE_' | grep -vE '^STOCKPILE_(URL|IMAGE|CONTAINER)$' || true); do
        envs+=(-e "$v")
    done
    t0=$EPOCHREALTIME
    CID=$(docker run -d --name "stockpile-test-$$-$RANDOM" -p 127.0.0.1::8000 "${envs[@]}" "$image")
    port=$(docker port "$CID" 8000/tcp | sed -n 's/^127\.0\.0\.1://p' | head -n 1)
    [ -n "$port" ] || fail "docker did not publish port 8000 of $CID"
    URL=http://127.0.0.1:$port
    HEALTH_S=$(wait_200 "$CID" "$URL/healthz" "$HEALTH_WAIT_S" "$t0") \
        || { docker logs --tail 40 "$CID" >&2 || true; fail "/healthz never answered"; }
    READY_S=$(wait_200 "$CID" "$URL/readyz" "$READY_WAIT_S" "$t0") \
        || { docker logs --tail 40 "$CID" >&2 || true; fail "/readyz never answered 200"; }
}

case "${1:-}" in
build)
    image=${2:?image name}; base=${3:?base image}
    [ -f wheels/constraints.txt ] || fail "wheels/ is missing: run 'make image' (it builds the wheels first)"
    docker image inspect "$base" >/dev/null 2>&1 || say "note: $base is not present locally; docker will try to pull it"
    t0=$SECONDS
    docker build --build-arg BASE_IMAGE="$base" --tag "$image" .
    build_s=$((SECONDS - t0))
    # The legacy builder leaves the build stage behind as a dangling image, and a
    # rebuild leaves the previous image untagged: remove those (ours only).
    docker image prune --force --filter label=org.stockpile.stage >/dev/null 2>&1 || true
    size=$(docker image inspect "$image" --format '{{.Size}}')
    base_size=$(docker image inspect "$base" --format '{{.Size}}')
    start "$image"
    say "built $image on $base in ${build_s} s"
    say "image size: $((size / 1000000)) MB ($(((size - base_size) / 1000000)) MB on top of the base's $((base_size / 1000000)) MB)"
    say "start-up: /healthz 200 after ${HEALTH_S} s, /readyz 200 after ${READY_S} s (from docker run)"
    ;;
test)
    image=${2:?image name}; shift 2
    docker image inspect "$image" >/dev/null 2>&1 || fail "no image $image: run 'make image' first"
    start "$image"
    say "$image is up at $URL (ready after ${READY_S} s); running tests/integration"
    rc=0
    STOCKPILE_URL=$URL STOCKPILE_IMAGE=$image STOCKPILE_CONTAINER=$CID \
        "$PY" -m pytest tests/integration -p no:cacheprovider "$@" || rc=$?
    if [ $rc -ne 0 ]; then
        say "integration tests failed ($rc); the container's last log lines:"
        docker logs --tail 40 "$CID" >&2 || true
    fi
    exit $rc
    ;;
*)
    sed -n '2,9p' "$0" >&2
    exit 2
    ;;
esac
