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

# The code. Installed editable on purpose: kans/settings.py sets REPO_ROOT to the parent of the `kans`
# package and the ClickHouse migrations are read from REPO_ROOT/infra/clickhouse/migrations, so the
# packages must stay in /app next to infra/ (a regular install would put REPO_ROOT in site-packages).
COPY Procfile ./
COPY infra ./infra
COPY schemas ./schemas
COPY services ./services
COPY kans ./kans
RUN pip install --no-cache-dir --no-deps -e . \
    && groupadd --system --gid 10001 kans \
    && useradd --system --uid 10001 --gid kans --create-home --home-dir /home/kans kans \
    && mkdir -p /data \
    && chown kans:kans /data

# The code in /app stays read-only for the service user. /data is its working directory and KANS_DATA_DIR:
# the faust workers (projections, inbound) keep their data folders under it.
WORKDIR /data
USER kans

EXPOSE 8000 8001 6066 6067
CMD ["kans", "--help"]
