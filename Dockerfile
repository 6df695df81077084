# spendwatch: one image for every command: worker, alerter, serve, the collectors (gpu, dcgm, billing),
# simulate, replay, anomalies. The Helm chart (charts/spendwatch) and docker-compose.yml both run it.
#
#   docker build -t spendwatch:local .
#
# Not built on this project's CI (no Docker engine there); tests/deploy/test_image.py checks this file
# against pyproject.toml, the services' default ports and the chart.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: install spendwatch and its dependencies into a virtual env (wheels only, no compiler)
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY spendwatch ./spendwatch
COPY detectors ./detectors
COPY streams ./streams
COPY alerting ./alerting
COPY collectors ./collectors
COPY api ./api
# (the dependencies' own test suites and pip itself are not needed at run time: ~80 MB less)
RUN python -m venv /opt/spendwatch \
    && /opt/spendwatch/bin/pip install --only-binary=:all: . \
    && find /opt/spendwatch/lib -type d -name tests -prune -exec rm -rf {} + \
    && /opt/spendwatch/bin/python -m pip uninstall -q -y pip setuptools \
    && /opt/spendwatch/bin/spendwatch --version

# --- runtime: the env only, run as an unprivileged numeric user (runAsNonRoot can verify it)
FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PATH=/opt/spendwatch/bin:$PATH \
    HOME=/var/lib/spendwatch \
    XDG_DATA_HOME=/var/lib/spendwatch/data \
    SPENDWATCH_SPOOL_DIR=/var/lib/spendwatch/spool \
    SPENDWATCH_STATE_DIR=/var/lib/spendwatch/state
COPY --from=build /opt/spendwatch /opt/spendwatch
# state, spool and the default SQLite history live under /var/lib/spendwatch, writable by the user;
# with a read-only root filesystem (the chart's default) they are volumes, and so is /tmp
RUN groupadd --system --gid 10001 spendwatch \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/spendwatch --no-create-home \
       --shell /usr/sbin/nologin spendwatch \
    && install -d -o 10001 -g 10001 /var/lib/spendwatch /var/lib/spendwatch/data /var/lib/spendwatch/spool \
       /var/lib/spendwatch/state
USER 10001:10001
WORKDIR /var/lib/spendwatch
# worker /metrics, serve (API + dashboard), GPU collector /metrics, alerter /metrics
EXPOSE 6066 8080 9403 9466
# Graceful stop on SIGTERM: the worker snapshots, flushes and commits before it exits.
STOPSIGNAL SIGTERM
ENTRYPOINT ["spendwatch"]
CMD ["worker", "--metrics-host", "0.0.0.0"]
