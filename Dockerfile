# The seedream-batch image: the CLI and the workers. The base is pinned to a patch release, not a
# moving tag; .dockerignore keeps .env and local data out of the build context. The packages are
# installed at the versions of constraints.txt, the ones the tests ran with. The emulator's web
# server is an extra: build with `--build-arg EXTRAS=[emulator]` for an image that also runs
# `seedream-batch emulator` (docker-compose.yml's emulator service does).
FROM python:3.12.8-slim-bookworm
ARG EXTRAS=""

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md constraints.txt ./
COPY config ./config
COPY jobs ./jobs
COPY producer ./producer
COPY worker ./worker
COPY emulator ./emulator
RUN pip install --disable-pip-version-check --constraint constraints.txt ".${EXTRAS}" \
    && useradd --create-home --uid 10001 seedream \
    && install -d -o seedream /var/lib/seedream
USER seedream
# beat's state (a volume in docker-compose.yml; a new volume takes this folder's owner)
VOLUME /var/lib/seedream

ENTRYPOINT ["seedream-batch"]
CMD ["worker"]
