#!/usr/bin/env bash
# Runs once, when the postgres container (docker-compose.yml) initializes
# an empty data directory, as the image's superuser: the roles of
# roles.sql, the database nas owned by the controller's role, and the
# reader's grants in template1 and nas. docker-compose.yml mounts this
# folder at /nas-sql. Passwords come from NAS_CONTROLLER_PASSWORD and
# NAS_READER_PASSWORD (defaults nas and nas_reader).
set -euo pipefail
psql=(psql -X -q -v ON_ERROR_STOP=1 --username "$POSTGRES_USER")
"${psql[@]}" --dbname postgres \
  -v controller_password="${NAS_CONTROLLER_PASSWORD:-nas}" \
  -v reader_password="${NAS_READER_PASSWORD:-nas_reader}" \
  -f /nas-sql/roles.sql
"${psql[@]}" --dbname postgres -c 'CREATE DATABASE nas OWNER nas'
for db in template1 nas; do
  "${psql[@]}" --dbname "$db" -f /nas-sql/reader_grants.sql
done
