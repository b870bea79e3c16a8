-- orderflow_analyst: the read-only role for psql users. It can read every analyst relation and
-- the chain/market/flow/strategy tables, write nothing, and has no access to schema exec (where
-- execution keeps its orders and credentials). Grants are (re)applied by views/990_grants.sql
-- on every migrate, since views are recreated there. Roles belong to the whole server: when the
-- migrating user may not create roles, the role is left for an administrator to create.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'orderflow_analyst') THEN
        CREATE ROLE orderflow_analyst NOLOGIN;
    END IF;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN
        NULL;   -- another database of this server made it at the same moment
    WHEN insufficient_privilege THEN
        RAISE NOTICE 'cannot create role orderflow_analyst here; an administrator can: CREATE ROLE orderflow_analyst NOLOGIN';
END $$;
