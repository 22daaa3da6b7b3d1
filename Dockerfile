# syntax=docker/dockerfile:1
# seclake container image: compiled with `deno compile` in the Deno image, run on distroless
# (glibc and CA certificates, no shell, no package manager) as a non-root user.
#
#   docker build --build-arg GIT_COMMIT=$(git rev-parse HEAD) -t seclake:0.1.0 .
#   docker run -d --name seclake --read-only \
#     -v seclake-state:/var/lib/seclake \
#     -v "$PWD/config.yaml:/etc/seclake/config.yaml:ro" \
#     -v "$PWD/certs:/etc/seclake/certs:ro" \
#     -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY \
#     -p 9464:9464 seclake:0.1.0
#
# The build needs the npm registry and dl.deno.land (the runtime of `deno compile`). Builds for
# arm64 use `docker buildx build --platform linux/arm64`: the build stage runs as arm64 and
# compiles for its own target.

ARG DENO_VERSION=2.9.6

FROM denoland/deno:${DENO_VERSION} AS build
# deno compile unpacks its runtime archive (denort-<target>.zip) with unzip.
RUN apt-get update \
 && apt-get install -y --no-install-recommends unzip \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY deno.json deno.lock main.ts ./
COPY src ./src
COPY scripts/compile.ts ./scripts/compile.ts
# The build context has no .git: the commit is passed in and stamped into `seclake version`.
ARG GIT_COMMIT=unknown
RUN --mount=type=cache,target=/deno-dir \
    SECLAKE_GIT_COMMIT="${GIT_COMMIT}" deno task compile --target native --out-dir /out \
 && mv /out/seclake-*-linux-gnu /out/seclake \
 && /out/seclake version \
 && mkdir -p /rootfs/var/lib/seclake /rootfs/etc/seclake

FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="seclake" \
      org.opencontainers.image.description="Amazon Security Lake collector for Devo"
COPY --from=build /out/seclake /usr/local/bin/seclake
COPY --from=build --chown=65532:65532 /rootfs/var/lib/seclake /var/lib/seclake
COPY --from=build /rootfs/etc/seclake /etc/seclake
# nonroot (65532) from the distroless image; never root.
USER 65532:65532
WORKDIR /var/lib/seclake
# One malloc arena for all threads: 40-70 MB less peak memory, same speed (docs/performance.md).
ENV MALLOC_ARENA_MAX=1
# State (set globals.persistence.directory_name to /var/lib/seclake). Configuration
# (/etc/seclake/config.yaml) and certificates (/etc/seclake/certs) are mounted read-only.
VOLUME ["/var/lib/seclake"]
# globals.metrics.listen: 0.0.0.0:9464 serves /metrics, /healthz and /readyz.
EXPOSE 9464
# The collector stops cleanly on SIGTERM: it stops receiving and lets work in flight finish
# within shutdown_timeout_seconds (25 s by default); give `docker stop` more, e.g. `-t 40`.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/seclake"]
CMD ["run", "--config", "/etc/seclake/config.yaml"]
