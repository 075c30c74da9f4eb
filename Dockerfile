# digestbot: the bot process (Slack and/or Discord, scheduler, commands).
# The database lives on the /data volume; tokens come in as environment variables.
FROM python:3.12.12-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DIGESTBOT_DB=/data/digestbot.db
# HTTP mode (Slack's requests, /healthz) listens on loopback unless told otherwise; in a
# container that would be unreachable from the published port, so listen on all of them.
ENV DIGESTBOT_HTTP_HOST=0.0.0.0

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY digest ./digest
COPY storage ./storage
RUN pip install --no-cache-dir . \
    && useradd --create-home --uid 10001 digestbot \
    && mkdir -p /data \
    && chown digestbot:digestbot /data

USER digestbot
VOLUME ["/data"]

# `digestbot run` touches /data/heartbeat every 30 s; stale for 3 minutes means unhealthy.
HEALTHCHECK --interval=60s --timeout=10s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import json, os, sys, time; p = '/data/heartbeat'; t = open(p).read(); sys.exit(0 if time.time() - os.path.getmtime(p) < 180 and not (t.startswith('{') and json.loads(t).get('dead')) else 1)"]

EXPOSE 3000
CMD ["digestbot", "run"]
