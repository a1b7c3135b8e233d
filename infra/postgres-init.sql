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
