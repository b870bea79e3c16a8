-- Read-only access for orderflow_analyst (migrations/V7), re-applied after the views above are
-- recreated. Nothing in schema exec is granted: execution state and credentials stay private.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'orderflow_analyst') THEN
        GRANT USAGE ON SCHEMA public, chain, market, flow, strategy TO orderflow_analyst;
        GRANT SELECT ON ALL TABLES IN SCHEMA public, chain, market, flow, strategy TO orderflow_analyst;
        REVOKE ALL ON SCHEMA exec FROM orderflow_analyst;
        REVOKE ALL ON ALL TABLES IN SCHEMA exec FROM orderflow_analyst;
    END IF;
END $$;
