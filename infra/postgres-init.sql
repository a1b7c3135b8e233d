-- The salur role and one database per service. Idempotent; needs psql (uses \gexec).
-- Run by infra/postgres.sh after every start, and by the postgres container in
-- infra/compose.yaml (mounted into /docker-entrypoint-initdb.d).

SELECT 'CREATE ROLE salur LOGIN CREATEDB PASSWORD ''salur'''
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'salur')
\gexec

ALTER ROLE salur LOGIN CREATEDB PASSWORD 'salur';

SELECT format('CREATE DATABASE %I OWNER salur', name)
FROM unnest(ARRAY[
    'salur_registry',
    'salur_planning',
    'salur_opportunities',
    'salur_matching',
    'salur_partnerships',
    'salur_audit'
]) AS name
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = name)
\gexec

-- The audit ledger's writer: the service appends with a role that may only INSERT and
-- SELECT (privileges granted per table by the audit service's migration, as their owner).
SELECT 'CREATE ROLE salur_audit_writer LOGIN PASSWORD ''salur'''
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'salur_audit_writer')
\gexec
-- Membership lets the owner end the writer's sessions (DROP DATABASE ... WITH (FORCE)).
GRANT salur_audit_writer TO salur;
