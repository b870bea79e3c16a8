-- Fills of one token in a block range: the panic search of strategy.make_signals (distinct
-- sellers of a token in the last panic_window), the paper broker's latest trade of a token and
-- the executor's marks. The hash index on token_id alone made the planner read either the
-- token's whole history or every fill of the window's blocks; a btree on (token_id,
-- block_number) reads just the window. It replaces the hash index, so ingest keeps one index
-- per token.
DROP INDEX IF EXISTS chain.order_filled_token;
CREATE INDEX order_filled_token_block ON chain.order_filled (token_id, block_number);
