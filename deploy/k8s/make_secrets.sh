#!/usr/bin/env bash
# Writes what deploy/k8s/secrets/kustomization.yaml turns into Secrets:
# scripts/make_certs.sh's CA, certificates and tokens, and database.env with
# random PostgreSQL passwords and the controller's NAS_DATABASE_URL for the
# in-cluster database. Keeps existing files, so reruns rotate nothing.
#
#   deploy/k8s/make_secrets.sh [DNS_NAME...]
#
# DNS_NAMEs are extra names for the controller's certificate, for clients
# outside the namespace (e.g. controller.nas.svc.cluster.local, or the name
# of a LoadBalancer that Slurm workers reach). For an external PostgreSQL,
# replace NAS_DATABASE_URL in secrets/database.env afterwards.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DIR=$HERE/secrets
"$HERE/../../scripts/make_certs.sh" "$DIR" "$@"
cd "$DIR"
umask 077
if [[ ! -f database.env ]]; then
  # Hex, so the password needs no escaping inside the URL.
  controller_password=$(openssl rand -hex 24)
  {
    echo "NAS_DATABASE_URL=postgresql://nas:$controller_password@postgres:5432/nas"
    echo "NAS_CONTROLLER_PASSWORD=$controller_password"
    echo "NAS_READER_PASSWORD=$(openssl rand -hex 24)"
    echo "POSTGRES_PASSWORD=$(openssl rand -hex 24)"
  } >database.env
fi
echo "make_secrets: database.env in $DIR"
