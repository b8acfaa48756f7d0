#!/bin/sh
# Vigil's two PostgreSQL roles (docs/database-roles.md), made by the postgres image on
# the first start of an empty data volume (it runs /docker-entrypoint-initdb.d then,
# and never again, as the superuser POSTGRES_USER):
#
# - vigil_owner owns the database and its tables; only the one-shot `migrate` service
#   connects as it (MIGRATE_DATABASE_URL);
# - vigil_app is what web, worker and beat connect as (DATABASE_URL): it owns nothing,
#   and `migrate` grants it what it needs, the audit log read and append only.
#
# Safe to run again, by hand, on a volume made before the two roles existed (whose
# tables the superuser owns): it hands them to vigil_owner.
#   docker compose exec postgres sh /docker-entrypoint-initdb.d/10-vigil-roles.sh
set -eu

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    --set owner_password="${DB_OWNER_PASSWORD:?set DB_OWNER_PASSWORD}" \
    --set app_password="${DB_APP_PASSWORD:?set DB_APP_PASSWORD}" <<'SQL'
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'vigil_owner') AS make_owner,
       NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'vigil_app') AS make_app \gset
\if :make_owner
    CREATE ROLE vigil_owner;
\endif
\if :make_app
    CREATE ROLE vigil_app;
\endif
ALTER ROLE vigil_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'owner_password';
ALTER ROLE vigil_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'app_password';
-- The import's staging tables are the only ones the app's role creates; `migrate` makes
-- the schema and lets it create there, and nowhere else.
ALTER ROLE vigil_app SET search_path = staging, public;
-- The database owner owns its public schema (PostgreSQL 15 and later).
ALTER DATABASE :"DBNAME" OWNER TO vigil_owner;

-- Tables, views and functions of a volume from before the two roles.
DO $$
DECLARE
    item record;
BEGIN
    FOR item IN
        SELECT format('ALTER %s %I.%I OWNER TO vigil_owner',
                      CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                     ELSE 'TABLE' END,
                      n.nspname, c.relname) AS statement
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm')
            AND pg_get_userbyid(c.relowner) <> 'vigil_owner'
    LOOP
        EXECUTE item.statement;
    END LOOP;
    FOR item IN
        SELECT format('ALTER ROUTINE %s OWNER TO vigil_owner', p.oid::regprocedure) AS statement
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> 'vigil_owner'
    LOOP
        EXECUTE item.statement;
    END LOOP;
END
$$;
SQL
