-- Helpers of the executor (src/exec): prices from the chain's own trades.

-- exec.last_trade(token, since_block, since_time): the newest fill of a token at or after
-- since_block whose block_time is at or after since_time (NULL: any time), newest first; no
-- row when there is none. The token key and the block bound keep the search on the token's
-- newest entries of each partition's token_key_block_log index (chain.partition_indexes; V33:
-- the first one is the answer). The exact match is written numeric_eq(a, b), the function of
-- a = b: the same test, but one the planner neither answers from the btree on token_id nor
-- multiplies with the key's selectivity (the two are one condition). Written a = b, it made
-- the planner expect one row, AND both indexes' bitmaps and sort what they found: every entry
-- of a busy token, 14.5 ms for the quotes of 20 signals instead of 0.5 ms.
CREATE OR REPLACE FUNCTION exec.last_trade(p_token numeric, p_since_block bigint, p_since_time timestamptz)
RETURNS TABLE (price numeric, block_number bigint, log_index integer, block_time timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT round(CASE WHEN o.side = 0 THEN o.maker_amount ELSE o.taker_amount END::numeric
                 / nullif(CASE WHEN o.side = 0 THEN o.taker_amount ELSE o.maker_amount END, 0), 6),
           o.block_number, o.log_index, o.block_time
    FROM chain.order_filled o
    WHERE chain.token_key(o.token_id) = chain.token_key(p_token) AND numeric_eq(o.token_id, p_token)
      AND o.block_number >= p_since_block
      AND (p_since_time IS NULL OR o.block_time >= p_since_time)
      AND CASE WHEN o.side = 0 THEN o.taker_amount ELSE o.maker_amount END > 0
    ORDER BY o.block_number DESC, o.log_index DESC
    LIMIT 1
$$;
