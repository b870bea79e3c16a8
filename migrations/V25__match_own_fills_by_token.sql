-- The executor finds its own orders' fills among chain.order_filled by token and block (the
-- (token_id, block_number) index every price lookup uses), then by order hash, instead of
-- through a hash index on order_hash: that index cost every stored fill about as much as the
-- primary key did, for lookups of a handful of orders.
-- from_block: a block no fill of the order can precede (the indexed head when it was signed,
-- less the reorg window).
ALTER TABLE exec.orders ADD COLUMN from_block bigint;
DROP INDEX IF EXISTS chain.order_filled_order_hash;
