FROM debian:12 AS build
COPY scripts/install_deps.sh /src/scripts/install_deps.sh
RUN /src/scripts/install_deps.sh && rm -rf /var/lib/apt/lists/*
COPY . /src
WORKDIR /src
RUN BUILD_DIR=/src/build scripts/build.sh -DNAS_BUILD_TESTS=OFF

FROM debian:12-slim
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libgrpc++1.51 libprotobuf32 libpqxx-6.4 libspdlog1.10 libyaml-cpp0.7 \
      libabsl20220623 libcpp-httplib0.11 librsvg2-2 fonts-dejavu-core \
      ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/controller/nas-controller /usr/local/bin/
COPY --from=build /src/build/nasctl/nasctl /usr/local/bin/
EXPOSE 50051
# Configured by NAS_DATABASE_URL, NAS_LISTEN, NAS_LEASE_SECONDS and the TLS
# and token variables of docs/security.md (NAS_TLS_CERT, NAS_TLS_KEY,
# NAS_AUTH_TOKENS_FILE, NAS_TLS_CLIENT_CA).
ENV NAS_LISTEN=0.0.0.0:50051
ENTRYPOINT ["/usr/local/bin/nas-controller"]
