# Multi-stage build: wheels are built in a throwaway stage; the runtime image runs as a
# non-root user, applies migrations (unless LOADLINE_MIGRATE_ON_START=0, as compose.yaml
# sets for its API replicas, which a one-shot `migrate` service precedes), then serves.
# SIGTERM reaches uvicorn directly (exec), which lets requests in flight finish.
FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir --upgrade pip build
COPY pyproject.toml README.md ./
COPY app ./app
RUN python -m build --wheel --outdir /wheels

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    LOADLINE_DATABASE_URL=sqlite+aiosqlite:////data/loadline.db
RUN useradd --create-home --uid 10001 loadline && mkdir /data && chown loadline /data
WORKDIR /srv/loadline
COPY --from=build /wheels /wheels
COPY constraints.txt ./
RUN pip install --no-cache-dir -c constraints.txt /wheels/*.whl && rm -rf /wheels
COPY alembic.ini ./
COPY migrations ./migrations
USER loadline
EXPOSE 8000
ENV LOADLINE_MIGRATE_ON_START=1
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"
CMD ["sh", "-c", "if [ \"$LOADLINE_MIGRATE_ON_START\" = 1 ]; then loadline db upgrade || exit 1; fi; exec loadline serve --host 0.0.0.0 --port 8000"]
