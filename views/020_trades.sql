-- trades: every OrderFilled credited to its maker (the order's owner), V1 and V2.
DROP VIEW IF EXISTS trades CASCADE;
CREATE VIEW trades AS
SELECT f.block_number,
       f.log_index,
       '0x' || encode(f.tx_hash, 'hex') AS tx_hash,
       f.block_time,
       '0x' || encode(f.contract, 'hex') AS exchange,
       f.version,
       '0x' || encode(f.maker, 'hex') AS wallet_address,
       '0x' || encode(f.taker, 'hex') AS counterparty,
       CASE WHEN f.taker = f.contract THEN 'taker' ELSE 'maker' END AS role,
       f.token_id,
       '0x' || encode(t.condition_id, 'hex') AS market_id,
       l.question AS market_title,
       l.category,
       t.outcome_index,
       market.outcome_label(l.outcome_labels, t.outcome_index, NULL) AS outcome,
       CASE f.side WHEN 0 THEN 'BUY' ELSE 'SELL' END AS side,
       round(v.collateral::numeric / nullif(v.tokens, 0), 6) AS price,
       (v.tokens / 1e6)::numeric(20,6) AS size,
       (v.collateral / 1e6)::numeric(20,6) AS usdc,
       (CASE WHEN f.version = 1 AND f.side = 0
             THEN (f.fee - coalesce(r.refund, 0))::numeric * v.collateral / nullif(v.tokens, 0)
             ELSE (f.fee - coalesce(r.refund, 0))::numeric END / 1e6)::numeric(20,6) AS fee,
       (coalesce(r.refund, 0) / 1e6)::numeric(20,6) AS fee_refund,
       '0x' || encode(f.order_hash, 'hex') AS order_hash
FROM chain.order_filled f
CROSS JOIN LATERAL (SELECT CASE f.side WHEN 0 THEN f.maker_amount ELSE f.taker_amount END AS collateral,
                           CASE f.side WHEN 0 THEN f.taker_amount ELSE f.maker_amount END AS tokens) v
LEFT JOIN market.tokens t ON t.token_id = f.token_id
LEFT JOIN market.labels l ON l.condition_id = t.condition_id
LEFT JOIN chain.fee_refunded r
       ON r.block_number = f.block_number AND r.tx_hash = f.tx_hash AND r.order_hash = f.order_hash;
COMMENT ON VIEW trades IS
    'One row per order fill per wallet: every OrderFilled credited to its maker (the order''s owner). Sum usdc over role = ''taker'' for market volume; summing all rows counts each match twice.';
COMMENT ON COLUMN trades.wallet_address IS 'The order''s owner (maker field of OrderFilled): a proxy wallet, Safe, EOA or deposit wallet. Indexed.';
COMMENT ON COLUMN trades.counterparty IS 'The taker field: the taker order''s owner for a maker fill, the exchange itself for a taker fill.';
COMMENT ON COLUMN trades.role IS 'taker when this fill is the taker order''s (counterparty = the exchange), maker otherwise.';
COMMENT ON COLUMN trades.price IS 'Collateral per share paid or received (usdc / size), before fees.';
COMMENT ON COLUMN trades.size IS 'Outcome tokens bought or sold, gross, in shares.';
COMMENT ON COLUMN trades.usdc IS 'Collateral paid (BUY) or received (SELL), gross, in USDC.';
COMMENT ON COLUMN trades.fee IS 'Fee in USDC net of any V1 fee-module refund. V1 BUY fees are charged in shares and shown here at the fill price.';
COMMENT ON COLUMN trades.market_title IS 'The market''s question as Polymarket shows it (Gamma: `orderflow markets sync`); NULL until known.';
COMMENT ON COLUMN trades.category IS 'The market''s Gamma category (its own, else its event''s, else the event''s first tag).';
COMMENT ON COLUMN trades.outcome IS 'The outcome''s label (Yes/No, Up/Down, a candidate in neg-risk events); YES/NO or OUTCOME_<index> when unknown.';
COMMENT ON COLUMN trades.market_id IS 'CTF condition id; NULL only while the token''s ConditionPreparation/TokenRegistered has not been indexed.';
