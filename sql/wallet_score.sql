-- One wallet's score: its components and their weights in the newest snapshot (the points add
-- up to the raw score, which the score spreads around 5 by score_spread), then its
-- score over time (one line per snapshot).
--   psql -v wallet="'0xabc…'" -f sql/wallet_score.sql
SELECT c.component, c.value, p.value AS weight, round(10 * c.value * p.value, 3) AS points
FROM wallet_scores_now s
CROSS JOIN LATERAL (VALUES
    ('win rate (shrunk)',      s.win_component,           'score_weight_win_rate'),
    ('profit factor (shrunk)', s.profit_factor_component, 'score_weight_profit_factor'),
    ('consistency (shrunk)',   s.consistency_component,   'score_weight_consistency'),
    ('confidence',             s.confidence_component,    'score_weight_confidence'),
    ('early entry (shrunk)',   s.early_entry_component,   'score_weight_early_entry')) c(component, value, param)
JOIN strategy.parameters p ON p.name = c.param
WHERE s.wallet_address = lower(:wallet);

SELECT as_of_time, as_of_block, score, resolved_positions AS resolved, win_rate, profit_factor, edge,
       round(total_pnl) AS pnl, is_market_maker, is_wash_trader
FROM wallet_scores
WHERE wallet_address = lower(:wallet)
ORDER BY as_of_time DESC
LIMIT 100;
