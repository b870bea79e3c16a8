-- chain.partition_name(parent, from_block): the partition of `parent` that begins at that
-- block, as ensure_partitions names it (chain.order_filled_b0080000000).
CREATE OR REPLACE FUNCTION chain.partition_name(p_parent regclass, p_from bigint) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT format('%I.%I', 'chain', c.relname || '_b' || lpad(p_from::text, 10, '0'))
    FROM pg_class c WHERE c.oid = p_parent
$$;

-- chain.index_partition(partition): builds those of its parent's chain.partition_indexes that
-- the partition lacks. Returns the indexes built.
CREATE OR REPLACE FUNCTION chain.index_partition(p_partition regclass) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    i    record;
    made integer := 0;
BEGIN
    FOR i IN
        SELECT left(c.relname || '_' || x.name, 63) AS index_name, x.definition
        FROM pg_class c
        JOIN pg_inherits h ON h.inhrelid = c.oid
        JOIN chain.partition_indexes x ON x.parent = h.inhparent
        WHERE c.oid = p_partition
        ORDER BY x.name
    LOOP
        IF to_regclass(format('chain.%I', i.index_name)) IS NULL THEN
            EXECUTE format('CREATE INDEX %I ON %s %s', i.index_name, p_partition, i.definition);
            made := made + 1;
        END IF;
    END LOOP;
    RETURN made;
END $$;

-- chain.index_partitions(below): builds the missing secondary indexes (chain.partition_indexes)
-- of every partition left unindexed by a bulk load, or with p_below only of those ending at or
-- below that block (the ones a bulk writer has left behind), and marks them indexed. Without
-- arguments it also looks at the partitions already marked, for an index added to
-- chain.partition_indexes since they were made. Returns the indexes built.
CREATE OR REPLACE FUNCTION chain.index_partitions(p_below bigint DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    r    record;
    made integer := 0;
BEGIN
    FOR r IN
        SELECT q.parent, q.from_block, to_regclass(chain.partition_name(q.parent, q.from_block)) AS rel
        FROM chain.partitions q
        WHERE p_below IS NULL OR NOT q.indexed AND q.to_block <= p_below
        ORDER BY q.from_block, q.parent::text
    LOOP
        made := made + chain.index_partition(r.rel);
        UPDATE chain.partitions SET indexed = true
        WHERE parent = r.parent AND from_block = r.from_block AND NOT indexed;
    END LOOP;
    RETURN made;
END $$;
COMMENT ON FUNCTION chain.index_partitions(bigint) IS
    'Builds the secondary indexes (chain.partition_indexes) of partitions a bulk load left unindexed (all, or those ending at or below p_below); without arguments, of every partition. Returns the indexes built.';

-- chain.ensure_partitions(from, to, indexed): make sure every partitioned chain.* table has
-- partitions covering blocks [from, to]. New ranges are aligned to the partition_blocks
-- parameter and clipped to neighbours already made, so a changed size never overlaps an old
-- range. A new partition gets its secondary indexes at once, unless p_indexed is false (a bulk
-- writer's: it is marked unindexed, and chain.index_partitions builds them when it is full).
DROP FUNCTION IF EXISTS chain.ensure_partitions(bigint, bigint);
CREATE OR REPLACE FUNCTION chain.ensure_partitions(p_from bigint, p_to bigint, p_indexed boolean DEFAULT true)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    size    bigint := strategy.param('partition_blocks')::bigint;
    v_parent regclass;
    v_part  text;
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
            v_part := chain.partition_name(v_parent, lo);
            EXECUTE format('CREATE TABLE IF NOT EXISTS %s PARTITION OF %s FOR VALUES FROM (%s) TO (%s)',
                           v_part, v_parent, lo, hi);
            IF p_indexed THEN
                PERFORM chain.index_partition(v_part::regclass);
            END IF;
            INSERT INTO chain.partitions (parent, from_block, to_block, indexed)
            VALUES (v_parent, lo, hi, p_indexed);
            made := made + 1;
            b := hi;
        END LOOP;
    END LOOP;
    RETURN made;
END $$;

-- A row of chain.partition_indexes is tried when it is written: its index is built on an empty
-- temporary table shaped like the parent, so a definition that cannot be built (a typo, a
-- missing column or function) fails the INSERT or UPDATE that wrote it, naming the row, instead
-- of every writer's next write, when chain.index_partitions meets it.
CREATE OR REPLACE FUNCTION chain.tg_partition_indexes__check() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        EXECUTE format('CREATE TEMP TABLE partition_index_probe (LIKE %s)', NEW.parent);
        EXECUTE format('CREATE INDEX ON pg_temp.partition_index_probe %s', NEW.definition);
        DROP TABLE pg_temp.partition_index_probe;
    EXCEPTION WHEN OTHERS THEN
        RAISE EXCEPTION 'chain.partition_indexes (%, %): "CREATE INDEX … ON <partition> %" cannot be built: %',
            NEW.parent, NEW.name, NEW.definition, SQLERRM
            USING ERRCODE = 'invalid_parameter_value';
    END;
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS _100_check ON chain.partition_indexes;
CREATE TRIGGER _100_check BEFORE INSERT OR UPDATE ON chain.partition_indexes
    FOR EACH ROW EXECUTE FUNCTION chain.tg_partition_indexes__check();
