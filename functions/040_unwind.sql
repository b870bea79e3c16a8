-- chain.unwind(fork): forget everything above block `fork` after a reorg, in the caller's
-- transaction. Deletes from every table of schemas chain and market that has a block_number
-- column (so a table an analyst adds there is unwound too), except the bookkeeping tables;
-- rewinds every cursor past the fork to it and drops score snapshots taken above it. Derived data follows through the tables' own
-- delete triggers (e.g. flow.wallet_totals). Returns the number of rows deleted.
CREATE OR REPLACE FUNCTION chain.unwind(p_fork bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    t       regclass;
    n       bigint;
    total   bigint := 0;
BEGIN
    IF p_fork IS NULL OR p_fork < 0 THEN
        RAISE EXCEPTION 'chain.unwind: bad fork block %', p_fork;
    END IF;
    FOR t IN
        SELECT c.oid::regclass
        FROM pg_class c
        JOIN pg_namespace s ON s.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'block_number' AND NOT a.attisdropped
        WHERE s.nspname IN ('chain', 'market')
          AND c.relkind IN ('r', 'p')
          AND NOT c.relispartition
          AND c.oid NOT IN ('chain.cursor'::regclass, 'chain.partitions'::regclass)
        ORDER BY 1::text
    LOOP
        EXECUTE format('DELETE FROM %s WHERE block_number > $1', t) USING p_fork;
        GET DIAGNOSTICS n = ROW_COUNT;
        total := total + n;
    END LOOP;
    UPDATE chain.cursor SET block_number = p_fork, updated_at = now() WHERE block_number > p_fork;
    -- Ranges queued for deferred derivation lose what lay above the fork.
    DELETE FROM flow.derive_queue WHERE from_block > p_fork;
    UPDATE flow.derive_queue SET to_block = p_fork WHERE to_block > p_fork;
    -- Score snapshots that saw the abandoned blocks go with them. The lock waits for a snapshot
    -- being taken (flow.take_score_snapshot holds it), so none above the fork can land later.
    LOCK TABLE flow.score_snapshots IN SHARE ROW EXCLUSIVE MODE;
    DELETE FROM flow.score_snapshots WHERE as_of_block > p_fork;
    RETURN total;
END $$;
COMMENT ON FUNCTION chain.unwind(bigint) IS
    'Reorg unwind: deletes every chain/market row above the fork block and rewinds cursors. Runs in the caller''s transaction.';
