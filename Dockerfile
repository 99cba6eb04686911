# One image for every KANS service (`kans topics create`, `kans serve ingest|inbound|projections|writer|api`).
# The broker and ClickHouse run from their official images (docker-compose.yml), so no Java here.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app

# Headless Chromium prints the annual report to PDF (GET /v1/reports/annual/{year}?format=pdf).
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium \
    && rm -rf /var/lib/apt/lists/*

# Dependencies first (their own layer, rebuilt only when pyproject.toml changes), from the pinned list.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The code, installed as a regular package: migrations, code lists, mappings, templates and the development key
# file are package data, so nothing is read from a checkout (the tools' supervisor config and Kafka build files are not
# needed in the image: the broker and ClickHouse are their own containers).
COPY core ./core
COPY schemas ./schemas
COPY services ./services
COPY kans ./kans
RUN pip install --no-cache-dir --no-deps . \
    && rm -rf /app/core /app/schemas /app/services /app/kans \
    && groupadd --system --gid 10001 kans \
    && useradd --system --uid 10001 --gid kans --create-home --home-dir /home/kans kans \
    && mkdir -p /data/vault \
    && chown -R kans:kans /data

# The code in /app stays read-only for the service user. /data is its working directory and KANS_DATA_DIR:
# the faust workers (projections, inbound) keep their data folders under it.
WORKDIR /data
USER kans

EXPOSE 8000 8001 6066 6067
CMD ["kans", "--help"]
