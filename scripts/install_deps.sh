#!/usr/bin/env bash
# Installs the Debian 12 packages this project builds and runs with.
# Idempotent: installs only what is missing. Needs root (or sudo).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto
  libtorch-dev libpqxx-dev libabsl-dev libspdlog-dev libyaml-cpp-dev libcpp-httplib-dev
  libstb-dev librsvg2-dev
  libgtest-dev libgmock-dev openssl libssl-dev
  postgresql postgresql-client
  nodejs npm
  python3 python3-grpcio python3-yaml python3-torch python3-onnx
  chromium
  kubernetes-client
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm may come from elsewhere (e.g. a Node.js install); only ask apt when absent.
if command -v npm >/dev/null && command -v node >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
# kubectl from another package (e.g. the Google Cloud SDK's) owns
# /usr/bin/kubectl, so Debian's would not install beside it.
if command -v kubectl >/dev/null; then
  missing=("${missing[@]/kubernetes-client}")
fi
read -r -a missing <<<"${missing[*]:-}"
if ((${#missing[@]} == 0)); then
  echo "install_deps: all packages present"
  exit 0
fi
SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"
echo "install_deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
