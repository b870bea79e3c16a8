-- Cheaper token indexes on chain.order_filled. A btree on the 78-digit numeric token_id grows
-- to ~117 bytes per fill, and every fill lands at a random place in it (4,000 tokens trading at
-- once), so it was the dearest part of storing a fill: measured with a server-side binary COPY
-- of 1M synthetic fills into a copy of the table, the two token btrees of V23 and V28 cost
-- 6.3-6.4 s over the primary key and the wallet index; the three indexes below cost 4.0-4.7 s
-- together, and keep every lookup indexed:
-- - order_filled_token (hash on token_id): plain equality, for analysts (trades WHERE
--   token_id = …, joins from market.tokens) and anything without a block bound;
-- - order_filled_token_key_block (btree on a 64-bit key of the token, then the block): fills
--   of one token in a block range (the paper broker's last trade, own-fill matching);
-- - order_filled_taker_sells (the same, partial): the FADE panic search.
-- Queries that want a block range write both `chain.token_key(o.token_id) =
-- chain.token_key(X)` (to reach the btree) and `o.token_id = X` (the exact match).

-- chain.token_key(token_id): a 64-bit hash of a token id (Postgres' own numeric hash, stable
-- across versions as hash indexes need it to be). Different tokens may share a key, so a
-- lookup by key also compares token_id.
CREATE FUNCTION chain.token_key(numeric) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN hash_numeric_extended($1, 0);
COMMENT ON FUNCTION chain.token_key(numeric) IS
    'A 64-bit key of a token id for the block-range indexes of chain.order_filled: filter on chain.token_key(token_id) = chain.token_key(X) AND token_id = X.';

DROP INDEX IF EXISTS chain.order_filled_token_block;
DROP INDEX IF EXISTS chain.order_filled_taker_sells;
CREATE INDEX order_filled_token ON chain.order_filled USING hash (token_id);
CREATE INDEX order_filled_token_key_block ON chain.order_filled (chain.token_key(token_id), block_number);
CREATE INDEX order_filled_taker_sells ON chain.order_filled (chain.token_key(token_id), block_number)
    WHERE side = 1 AND taker = contract;
