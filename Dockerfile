# Stockpile's service image.
#
#   make image                      # wheels on the host, then docker build
#   docker run -p 8000:8000 stockpile:latest
#
# Hermetic: `make image` builds the wheels of the project and of every
# dependency on the host (pip wheel, into wheels/); this build installs only
# from them (--no-index), so it needs no network. Plain Dockerfile syntax:
# works with BuildKit and with the legacy builder.
#
# BASE_IMAGE must provide python3 3.11 with the venv module: the official
# python:3.11-slim, or Debian bookworm with python3 and python3-venv (the
# stand-in CI builds with debootstrap, see .ci/base-image.sh).
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
# Lets `make image` prune what the legacy builder leaves of this stage, and
# earlier builds left untagged by a rebuild (the final stage has the label too).
LABEL org.stockpile.stage=build
COPY wheels/ /wheels/
# After installing, drop what is not needed at run time: pip itself, and the
# test suites that numpy, scipy and pyomo ship inside their packages.
RUN python3 -m venv /opt/stockpile \
 && /opt/stockpile/bin/python -m pip install --no-index --find-links /wheels --no-cache-dir \
        --disable-pip-version-check --quiet --constraint /wheels/constraints.txt stockpile \
 && /opt/stockpile/bin/stockpile --help >/dev/null \
 && /opt/stockpile/bin/python -m pip uninstall --quiet --yes pip setuptools \
 && find /opt/stockpile/lib -depth -type d -name tests \
        \( -path '*/site-packages/numpy/*' -o -path '*/site-packages/scipy/*' -o -path '*/site-packages/pyomo/*' \) -exec rm -rf {} +

FROM ${BASE_IMAGE}
LABEL org.stockpile.stage=final
COPY --from=build /opt/stockpile /opt/stockpile
RUN groupadd --gid 10001 stockpile \
 && useradd --uid 10001 --gid stockpile --no-log-init --create-home --home-dir /home/stockpile \
        --shell /usr/sbin/nologin stockpile \
 && mkdir -p /data && chown stockpile:stockpile /data
USER stockpile
WORKDIR /home/stockpile
# Settings are environment variables (see the README's Container section);
# the port inside the container is always 8000 (the CMD passes --port).
ENV PATH=/opt/stockpile/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    STOCKPILE_LOG_LEVEL=info \
    STOCKPILE_DATA_DIR=/data
# Jobs and saved scenarios (the default SQLite database); STOCKPILE_DATABASE_URL may point elsewhere.
VOLUME ["/data"]
EXPOSE 8000
# No curl in a slim image: the venv's python asks /healthz.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
# Exec form: stockpile is PID 1 and receives SIGTERM itself (docker stop drains).
STOPSIGNAL SIGTERM
CMD ["stockpile", "serve", "--host", "0.0.0.0", "--port", "8000"]
