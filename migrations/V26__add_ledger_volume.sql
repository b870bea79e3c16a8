-- Wallet totals (the `wallets` relation) are kept from the ledger's fill rows, like positions:
-- derived at once, or by flow.derive for a deferring writer, and recomputed from the ledger on
-- a reorg. volume: the collateral a fill traded, gross of fees (what total_volume sums); NULL
-- for rows that are not fills.
ALTER TABLE flow.ledger ADD COLUMN volume bigint;
UPDATE flow.ledger l
SET volume = CASE WHEN f.side = 0 THEN f.maker_amount ELSE f.taker_amount END
FROM chain.order_filled f
WHERE l.kind IN ('buy', 'sell') AND f.block_number = l.block_number AND f.log_index = l.log_index;
