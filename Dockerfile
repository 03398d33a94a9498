# syntax=docker/dockerfile:1
# clickstream: the scoring service as a container. Two parts:
#   chef/planner/builder  compile the `production` profile into /out/clickstream; the
#                         dependency build is its own layer (cargo-chef), so a change to
#                         src/ rebuilds only the crate;
#   runtime               the binary and the shipped models on a small base, non-root.
# A binary built elsewhere can stand in for the builder stage with a named build context
# (`--build-context builder=...` holding /out/clickstream), as deploy/container/test.sh does.
# Base images are build arguments with public defaults.
ARG RUST_IMAGE=docker.io/library/rust:1.95-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${RUST_IMAGE} AS chef
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
# Debug info is for profiling on a workstation; the image ships a stripped binary.
ENV CARGO_PROFILE_PRODUCTION_DEBUG=0 \
    CARGO_PROFILE_PRODUCTION_STRIP=symbols
RUN cargo chef cook --profile production --recipe-path recipe.json
COPY . .
RUN cargo build --profile production --locked --bin clickstream \
    && mkdir -p /out \
    && cp target/production/clickstream /out/clickstream

FROM ${RUNTIME_IMAGE} AS runtime
ARG VERSION=0.1.0
# Where the repository lives: pass it when building (--build-arg SOURCE_URL=...).
ARG SOURCE_URL=unknown
LABEL org.opencontainers.image.title="clickstream" \
      org.opencontainers.image.description="Scores online-shop sessions while the shopper browses: conversion, revenue and persona" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0"
COPY --from=builder /out/clickstream /usr/local/bin/clickstream
# Shipped models, owned by root and read-only to the service; mount a volume over
# /models (or set MODELS_DIR) to ship new versions without a new image.
COPY models/ /models/
ENV PORT=8080 \
    HOST=0.0.0.0 \
    MODELS_DIR=/models \
    LOG_FORMAT=json \
    RUST_LOG=info
# A numeric user needs no passwd entry, and lets Kubernetes check runAsNonRoot.
USER 10001:10001
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/clickstream", "healthcheck", "--timeout-ms", "2000"]
ENTRYPOINT ["/usr/local/bin/clickstream"]
CMD ["serve"]
