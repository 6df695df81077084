# spendwatch: one image for the worker, the alerter, the collectors and the simulator.
# Build: docker build -t spendwatch:local .      (untested on this project's CI: no Docker engine there)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY spendwatch ./spendwatch
COPY detectors ./detectors
COPY streams ./streams
COPY alerting ./alerting
COPY collectors ./collectors
RUN pip install . "faust-streaming[uvloop]" \
    && useradd --system --uid 10001 --home-dir /app spendwatch \
    && mkdir -p /app/data && chown spendwatch /app/data

USER spendwatch
# collector state (billing ledger, publisher spool): a directory this user owns (collectors/state.py)
ENV SPENDWATCH_KAFKA=kafka:9092 SPENDWATCH_STATE_DIR=/app/data
EXPOSE 6066
# Graceful stop on SIGTERM: the worker snapshots, flushes and commits before it exits.
STOPSIGNAL SIGTERM
ENTRYPOINT ["spendwatch"]
CMD ["worker", "--metrics-host", "0.0.0.0"]
