-- When a position was first bought into (its first ledger row may be a sale or a conversion
-- that gives up nothing held): scores count a market as entered only from then, so a snapshot
-- never learns of an entry that came after its block.
ALTER TABLE flow.positions ADD COLUMN first_buy_block bigint, ADD COLUMN first_buy_time timestamptz;
UPDATE flow.positions p
SET first_buy_block = b.block_number, first_buy_time = b.block_time
FROM (SELECT DISTINCT ON (wallet, token_id) wallet, token_id, block_number, block_time
      FROM flow.ledger WHERE qty > 0
      ORDER BY wallet, token_id, block_number, log_index, sub) b
WHERE b.wallet = p.wallet AND b.token_id = p.token_id;
