-- What nas_reader (roles.sql) may do in one database: run it as a superuser
-- in the service's database and in template1, so that every database
-- created later (a fresh deployment, the tests' scratch databases) starts
-- with the same rules. Idempotent.
--
-- The reader gets CONNECT, USAGE on schema public and SELECT on its tables
-- and views, now and (default privileges, which CREATE DATABASE copies from
-- the template) on every table or view that role nas creates later. It gets
-- nothing on sequences, so it cannot call nextval or setval. Nobody but nas
-- may create objects in public (PostgreSQL before 15 let PUBLIC), and
-- PUBLIC loses TEMPORARY on this database, so the reader cannot create even
-- temporary tables here. Database ACLs are not copied from the template:
-- the tests' scratch-database helpers revoke TEMPORARY themselves.
\set ON_ERROR_STOP on

SELECT format('GRANT CONNECT ON DATABASE %I TO nas_reader', current_database())
\gexec
SELECT format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database())
\gexec

REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO nas;
GRANT USAGE ON SCHEMA public TO nas_reader;

-- Objects that exist already (the controller may have migrated first).
GRANT SELECT ON ALL TABLES IN SCHEMA public TO nas_reader;
-- Objects the controller creates from now on.
ALTER DEFAULT PRIVILEGES FOR ROLE nas IN SCHEMA public
  GRANT SELECT ON TABLES TO nas_reader;
