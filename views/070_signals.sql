-- signals: FOLLOW / FADE signals as analysts read them (strategy.signals, made by
-- strategy.make_signals in functions/070_signals.sql). sql/why_signal.sql explains one.

DROP VIEW IF EXISTS signals CASCADE;
CREATE VIEW signals AS
SELECT s.signal_id,
       s.created_at,
       s.action,
       chain.hex(s.wallet) AS wallet_address,
       chain.hex(s.condition_id) AS market_id,
       l.question AS market_title,
       s.token_id,
       s.outcome_index,
       market.outcome_label(l.outcome_labels, s.outcome_index, NULL) AS outcome,
       CASE s.side WHEN 0 THEN 'BUY' ELSE 'SELL' END AS side,
       CASE s.trigger_side WHEN 0 THEN 'BUY' ELSE 'SELL' END AS trigger_side,
       s.trigger_role,
       s.price AS trigger_price,
       s.size,
       s.confidence,
       s.score,
       s.snapshot_id,
       s.panic_sellers,
       s.reason,
       s.block_number,
       s.log_index,
       s.block_time,
       chain.hex(s.tx_hash) AS tx_hash,
       s.status,
       s.decided_at,
       s.reorged_at IS NOT NULL AS reorged,
       s.reorged_at
FROM strategy.signals s
LEFT JOIN market.labels l ON l.condition_id = s.condition_id;
COMMENT ON VIEW signals IS
    'Trading signals: FOLLOW (a wallet scoring >= follow_min bought) and FADE (>= panic_min wallets scoring <= fade_max sold one outcome within panic_window seconds; fade buys it). Thresholds in strategy.parameters; psql -v id=N -f sql/why_signal.sql explains one.';
COMMENT ON COLUMN signals.created_at IS 'When the signal was made (the "now" strategy.make_signals ran with; the replay time in a backtest).';
COMMENT ON COLUMN signals.wallet_address IS 'The wallet whose fill triggered the signal (the skilled buyer, or the unskilled seller whose sale completed the panic).';
COMMENT ON COLUMN signals.market_id IS 'CTF condition id; NULL while the token''s market is not yet indexed.';
COMMENT ON COLUMN signals.side IS 'What the signal asks to do with token_id: BUY (FOLLOW buys what the wallet bought; FADE buys what the panic sells).';
COMMENT ON COLUMN signals.trigger_side IS 'What the triggering wallet did: BUY for FOLLOW, SELL for FADE.';
COMMENT ON COLUMN signals.trigger_role IS 'maker (a resting order was filled) or taker (the wallet''s order took liquidity; counterparty = the exchange).';
COMMENT ON COLUMN signals.trigger_price IS 'Price of the triggering fill, USDC per share, before fees.';
COMMENT ON COLUMN signals.size IS 'Shares of the triggering fill.';
COMMENT ON COLUMN signals.confidence IS 'In [0, 1]; the executor reads it as the probability that the bought outcome pays out (Kelly p). FOLLOW: linear in the score from follow_confidence_min at follow_min to follow_confidence_max at 10. FADE: linear in the sellers from fade_confidence_min at panic_min to fade_confidence_max at panic_full_sellers.';
COMMENT ON COLUMN signals.score IS 'The triggering wallet''s 0-10 score in snapshot_id, the newest snapshot at or before the fill (point-in-time).';
COMMENT ON COLUMN signals.snapshot_id IS 'Score snapshot used (wallet_scores.snapshot_id).';
COMMENT ON COLUMN signals.panic_sellers IS 'FADE: distinct unskilled wallets (score <= fade_max, not market makers or wash traders) that sold this outcome within panic_window seconds up to the fill; NULL for FOLLOW.';
COMMENT ON COLUMN signals.status IS 'new: waiting for the executor; taken: an order was placed; skipped: the executor declined (the reason is in executor_decisions).';
COMMENT ON COLUMN signals.reorged IS 'The triggering fill was unwound by a reorg after the executor decided (undecided signals of unwound fills are deleted).';
