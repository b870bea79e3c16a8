-- Why did signal N fire: the signal, the fill that triggered it, the wallet's row in the score
-- snapshot it used (with the components), the panic sellers behind a FADE with their sales in
-- the window, and what the executor decided.
--   psql -v id=42 -f sql/why_signal.sql

\echo 'The signal'
SELECT signal_id, action, created_at, wallet_address, market_id, outcome, token_id, side,
       trigger_side, trigger_role, trigger_price, size, confidence, score, snapshot_id,
       panic_sellers, status, reorged, reason
FROM signals
WHERE signal_id = :id;

\echo 'The fill that triggered it'
SELECT t.block_number, t.log_index, t.block_time, t.tx_hash, t.wallet_address, t.role,
       t.side, t.price, t.size, t.usdc, t.fee, t.market_title, t.outcome
FROM strategy.signals s
JOIN trades t ON t.block_number = s.block_number AND t.log_index = s.log_index
WHERE s.signal_id = :id;

\echo 'The wallet in the score snapshot used (point-in-time)'
SELECT w.snapshot_id, w.as_of_block, w.as_of_time, w.wallet_address, w.score, w.resolved_positions,
       w.win_component, w.profit_factor_component, w.consistency_component, w.confidence_component,
       w.early_entry_component, w.win_rate, w.profit_factor, w.sharpe_ratio, w.edge, w.total_pnl,
       w.is_market_maker, w.is_wash_trader
FROM strategy.signals s
JOIN wallet_scores w ON w.snapshot_id = s.snapshot_id AND w.wallet_address = chain.hex(s.wallet)
WHERE s.signal_id = :id;

\echo 'FADE: the panic sellers, their scores and their sales of the token in the window'
SELECT chain.hex(p.wallet) AS seller, w.score, w.resolved_positions,
       count(o.*) AS sales, round(sum(o.maker_amount) / 1e6, 6) AS shares_sold,
       min(o.block_time) AS first_sale, max(o.block_time) AS last_sale
FROM strategy.signals s
CROSS JOIN LATERAL unnest(s.panic_wallets) AS p(wallet)
JOIN flow.wallet_scores w ON w.snapshot_id = s.snapshot_id AND w.wallet = p.wallet
LEFT JOIN chain.order_filled o
       ON o.token_id = s.token_id AND o.maker = p.wallet AND o.side = 1
      AND (o.block_number, o.log_index) <= (s.block_number, s.log_index)
      AND o.block_time >= s.block_time - make_interval(secs => strategy.param('panic_window'))
WHERE s.signal_id = :id
GROUP BY p.wallet, w.score, w.resolved_positions
ORDER BY min(o.block_time), 1;

\echo 'The thresholds now (they may have changed since the signal)'
SELECT name, value, description
FROM strategy.parameters
WHERE name IN ('follow_min', 'fade_max', 'panic_min', 'panic_window', 'panic_full_sellers',
               'follow_maker_fills', 'fade_maker_fills', 'signal_cooldown_seconds', 'signal_max_age_seconds',
               'follow_confidence_min', 'follow_confidence_max', 'fade_confidence_min', 'fade_confidence_max')
ORDER BY name;

\echo 'What the executor decided'
SELECT decision_id, decided_at, outcome, reason, confidence, signal_age_secs, price, kelly, fraction,
       equity, deployed, open_positions, stake, shares, fee
FROM executor_decisions
WHERE signal_id = :id
ORDER BY decision_id;
