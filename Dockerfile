# syntax=docker/dockerfile:1
# The API and worker image (`invoke image.build`; `invoke deploy` builds, pushes and pins it by
# digest). One image, two commands: ECS runs `ragassist serve ...` for the API and
# `ragassist worker` for the worker; `ragassist migrate` runs as a one-off task on deploy.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# A virtualenv is copied whole into the runtime stage: no pip, sources or build cache there.
RUN python -m venv /opt/ragassist
ENV PATH=/opt/ragassist/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY contracts ./contracts
RUN pip install .

FROM python:3.11-slim
ENV PATH=/opt/ragassist/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# A fixed, unprivileged uid: the task never needs root, and file ownership stays predictable.
RUN groupadd --system --gid 10001 ragassist \
 && useradd --system --uid 10001 --gid ragassist --no-create-home --shell /usr/sbin/nologin ragassist
COPY --from=build /opt/ragassist /opt/ragassist
WORKDIR /srv/ragassist
USER ragassist:ragassist
EXPOSE 8000
# No HEALTHCHECK: the ALB checks /healthz and ECS replaces tasks that fail it.
CMD ["ragassist", "serve", "--host", "0.0.0.0", "--port", "8000"]
