# The revops-sync daemon. Build: docker build -t revops-sync .
# Run:   docker run --env-file .env -v revops-var:/app/var -v "$PWD/mappings:/app/mappings:ro" -p 9464:9464 revops-sync
# Secrets: pass *_FILE variables pointing at mounted files (HUBSPOT_ACCESS_TOKEN_FILE=/run/secrets/hs).
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY connector ./connector
RUN pip install --no-cache-dir --upgrade pip \
 && pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    REVOPS_DATABASE_URL=sqlite:////app/var/revops-sync.db \
    REVOPS_MAPPINGS=mappings/the-model.yaml \
    REVOPS_JOBS=jobs/default.yaml \
    REVOPS_LOG_JSON=1
RUN groupadd --system --gid 10001 revops \
 && useradd --system --uid 10001 --gid revops --home-dir /app --shell /usr/sbin/nologin revops
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
WORKDIR /app
COPY --chown=revops:revops mappings ./mappings
COPY --chown=revops:revops jobs ./jobs
RUN mkdir -p /app/var && chown revops:revops /app/var
USER revops
# The mirror (SQLite + its lock file) and the RevOps-owned rules live outside the image.
VOLUME ["/app/var", "/app/mappings"]
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=4).status == 200 else 1)"]
# SIGTERM (docker stop) finishes the current page, commits and exits; give it time to do so.
STOPSIGNAL SIGTERM
ENTRYPOINT ["revops-sync", "serve"]
CMD ["--health-host", "0.0.0.0", "--health-port", "9464"]
