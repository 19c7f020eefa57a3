# CPU worker on Debian's LibTorch. For GPU workers, build the same sources on
# an image with LibTorch 2.x + CUDA (see docs/deploy.md) and run with --device=auto.
FROM debian:12 AS build
COPY scripts/install_deps.sh /src/scripts/install_deps.sh
RUN /src/scripts/install_deps.sh && rm -rf /var/lib/apt/lists/*
COPY . /src
WORKDIR /src
RUN BUILD_DIR=/src/build scripts/build.sh -DNAS_BUILD_TESTS=OFF \
    && scripts/prepare_data.sh /data

FROM debian:12-slim
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libgrpc++1.51 libprotobuf32 libspdlog1.10 libyaml-cpp0.7 \
      libabsl20220623 libtorch1.13 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/worker/nas-worker /usr/local/bin/
COPY --from=build /data /data
# Configured by NAS_CONTROLLER, NAS_DEVICE, NAS_DATA_DIR and, for TLS and
# tokens (docs/security.md), NAS_TLS_CA and NAS_TOKEN_FILE or NAS_TOKEN.
ENV NAS_DATA_DIR=/data NAS_DEVICE=auto
ENTRYPOINT ["/usr/local/bin/nas-worker"]
