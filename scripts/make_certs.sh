#!/usr/bin/env bash
# Makes a private CA, a controller certificate, a client certificate (for
# mutual TLS) and a tokens file with fresh random tokens, for a trial setup
# or docker compose. For production, use certificates from your own CA.
#
#   scripts/make_certs.sh DIR [NAME...]
#
# NAMEs are extra DNS names of the controller (always: localhost, 127.0.0.1
# and "controller", the compose service). Writes into DIR:
#   ca.pem ca.key            the CA (keep ca.key offline in real use)
#   server.pem server.key    nas-controller --tls_cert / --tls_key
#   client.pem client.key    nas-worker / nasctl --tls_cert / --tls_key
#   tokens                   nas-controller --auth_tokens_file
#   client.token worker.token admin.token   --token_file of each role
#   monitor.token            what Prometheus scrapes /metrics with
# Existing files are kept, so rerunning never rotates secrets by accident.
set -euo pipefail
DIR=${1:?usage: scripts/make_certs.sh DIR [DNS_NAME...]}
shift
mkdir -p "$DIR"
cd "$DIR"
umask 077

KEY_OPTS=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
SAN="IP:127.0.0.1,DNS:localhost,DNS:controller"
for name in "$@"; do SAN+=",DNS:$name"; done

if [[ ! -f ca.pem ]]; then
  openssl req -x509 "${KEY_OPTS[@]}" -keyout ca.key -out ca.pem -days 825 \
    -subj /CN=nas-ca -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
fi
issue() {  # name extensions
  [[ -f "$1.pem" ]] && return
  printf '%s\n' "$2" >"$1.ext"
  openssl req "${KEY_OPTS[@]}" -keyout "$1.key" -out "$1.csr" -subj "/CN=nas-$1" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
    -days 825 -out "$1.pem" -extfile "$1.ext" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
issue server "subjectAltName=$SAN
extendedKeyUsage=serverAuth"
issue client "extendedKeyUsage=clientAuth"

if [[ ! -f tokens ]]; then
  for role in client worker monitor admin; do openssl rand -hex 24 >"$role.token"; done
  {
    echo "# <name> <role> <token>; see docs/security.md"
    echo "user    client $(cat client.token)"
    echo "workers worker $(cat worker.token)"
    echo "prometheus monitor $(cat monitor.token)"
    echo "admin   admin  $(cat admin.token)"
  } >tokens
fi
echo "make_certs: certificates and tokens in $(pwd)"
