# syntax=docker/dockerfile:1
# ecs-operator container image.
#
#   docker build -t REGISTRY/ecs-operator:0.1.0 .
#   (or: podman build / buildah bud; without a daemon or registry access: scripts/build-image.sh)
#
# The runtime image is distroless (glibc, CA certificates, no shell) and runs as the non-root
# user 65532, as the Helm chart and config/manager expect; the pod passes the "restricted"
# Pod Security Standard with a read-only root filesystem.

ARG RUST_VERSION=1

FROM rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /src
# Only what `cargo build` needs (see .dockerignore): the manifest, the lockfile, the sources
# and the declared bench target (cargo refuses a manifest whose targets are missing).
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --bin ecs-operator \
 && install -D -m 0755 target/release/ecs-operator /out/ecs-operator

FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="ecs-operator" \
      org.opencontainers.image.description="Run Amazon ECS task definitions and services on Kubernetes" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /out/ecs-operator /ecs-operator
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/ecs-operator", "run"]
