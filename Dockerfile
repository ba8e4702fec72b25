# leadsync in a container: the installed CLI is the entrypoint, so the container takes the same
# arguments as the command (examples/kubernetes/ runs it as an Indexed CronJob):
#   docker build -t leadsync:0.1.0 .
#   docker run --rm --env-file leadsync.env -v "$PWD/leadsync.yaml:/etc/leadsync/leadsync.yaml:ro" \
#     leadsync:0.1.0 sync -c /etc/leadsync/leadsync.yaml --json --log-format json
# Secrets come from the environment at run time (--env-file, a Kubernetes Secret), never from
# the image. The state must be PostgreSQL (state.backend: postgres) when several containers
# share it; a container's own filesystem is gone when it ends.
#
# Pinned: the Python minor version and the Debian release of the slim base image. For
# reproducible builds, pin the base image by digest too (python:3.11-slim-bookworm@sha256:...).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# Build stage: wheels for leadsync and its dependencies (with the PostgreSQL driver).
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY schema ./schema
COPY src ./src
RUN pip wheel --wheel-dir /wheels ".[postgres]"

# Run stage: no compiler, no sources, no pip cache; an unprivileged user with a fixed uid (the
# Kubernetes example's runAsUser), so runAsNonRoot can verify it.
FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links=/wheels "leadsync[postgres]" \
    && rm -rf /wheels \
    && groupadd --system --gid 10001 leadsync \
    && useradd --system --uid 10001 --gid 10001 --home-dir /home/leadsync --create-home leadsync
USER 10001:10001
WORKDIR /home/leadsync
ENTRYPOINT ["leadsync"]
CMD ["--help"]
