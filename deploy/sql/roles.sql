-- The cluster's roles for the NAS service. A DBA runs it once per cluster,
-- as a superuser, in any database (scripts/pg_local.sh and the postgres
-- container's init script, deploy/sql/docker-init.sh, do):
--
--   psql -v controller_password=... -v reader_password=... -f roles.sql
--
-- Then reader_grants.sql runs in the service's database and in template1.
-- Both files are idempotent: running them again resets the attributes and
-- passwords below and changes nothing else.
--
--   nas         the controller. Not a superuser: it owns the database and
--               every object its migrations create (controller/store/
--               migrations.cc), and nothing else.
--   nas_reader  people and dashboards that query trial history in SQL.
--               SELECT on every table and view of the service's schema,
--               including those later migrations add (default privileges
--               in reader_grants.sql); no write of any kind. Its sessions
--               also start read-only (default_transaction_read_only), a
--               second guard that it may lift but that catches mistakes.
\set ON_ERROR_STOP on
\if :{?controller_password}
\else
\set controller_password nas
\endif
\if :{?reader_password}
\else
\set reader_password nas_reader
\endif

SELECT 'CREATE ROLE nas' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'nas')
\gexec
SELECT 'CREATE ROLE nas_reader' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'nas_reader')
\gexec

ALTER ROLE nas LOGIN NOSUPERUSER NOCREATEROLE NOREPLICATION NOBYPASSRLS
  PASSWORD :'controller_password';
ALTER ROLE nas_reader LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
  NOBYPASSRLS PASSWORD :'reader_password';
ALTER ROLE nas_reader SET default_transaction_read_only = on;
