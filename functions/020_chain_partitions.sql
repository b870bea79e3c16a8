-- chain.ensure_partitions(from, to): make sure every partitioned chain.* table has partitions
-- covering blocks [from, to]. New ranges are aligned to the partition_blocks parameter and
-- clipped to neighbours already made, so a changed size never overlaps an old range.
CREATE OR REPLACE FUNCTION chain.ensure_partitions(p_from bigint, p_to bigint) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    size    bigint := strategy.param('partition_blocks')::bigint;
    v_parent regclass;
    b       bigint;
    lo      bigint;
    hi      bigint;
    made    integer := 0;
BEGIN
    IF p_from < 0 OR p_to < p_from THEN
        RAISE EXCEPTION 'ensure_partitions: bad block range % .. %', p_from, p_to;
    END IF;
    IF size <= 0 THEN
        RAISE EXCEPTION 'parameter partition_blocks must be positive, is %', size;
    END IF;
    -- One maker of partitions at a time; others wait and then find them made.
    PERFORM pg_advisory_xact_lock(hashtext('chain.ensure_partitions'));
    FOR v_parent IN
        SELECT c.oid::regclass
        FROM pg_partitioned_table p
        JOIN pg_class c ON c.oid = p.partrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'chain' AND NOT c.relispartition
        ORDER BY 1
    LOOP
        b := p_from;
        WHILE b <= p_to LOOP
            SELECT q.to_block INTO hi FROM chain.partitions q
            WHERE q.parent = v_parent AND q.from_block <= b AND b < q.to_block;
            IF FOUND THEN
                b := hi;
                CONTINUE;
            END IF;
            lo := (b / size) * size;
            hi := lo + size;
            SELECT greatest(lo, max(q.to_block)) INTO lo FROM chain.partitions q
            WHERE q.parent = v_parent AND q.to_block <= b;
            lo := coalesce(lo, (b / size) * size);
            SELECT least(hi, min(q.from_block)) INTO hi FROM chain.partitions q
            WHERE q.parent = v_parent AND q.from_block > b;
            hi := coalesce(hi, lo + size);
            EXECUTE format('CREATE TABLE IF NOT EXISTS %s PARTITION OF %s FOR VALUES FROM (%s) TO (%s)',
                           format('%I.%I', 'chain',
                                  (SELECT relname FROM pg_class WHERE oid = v_parent) || '_b' || lpad(lo::text, 10, '0')),
                           v_parent, lo, hi);
            INSERT INTO chain.partitions (parent, from_block, to_block) VALUES (v_parent, lo, hi);
            made := made + 1;
            b := hi;
        END LOOP;
    END LOOP;
    RETURN made;
END $$;
