-- Wallet scores 0-10, point-in-time: every snapshot (flow.take_score_snapshot, taken on a
-- schedule by the indexer or by hand) scores every wallet from what was known at its block.
-- wallet_scores is the whole history; wallet_scores_now the newest snapshot.

DROP VIEW IF EXISTS wallet_scores CASCADE;
CREATE VIEW wallet_scores AS
SELECT s.snapshot_id, s.as_of_block, s.as_of_time, s.reason,
       chain.hex(w.wallet) AS wallet_address,
       w.score, w.resolved_positions,
       w.win_component, w.profit_factor_component, w.consistency_component, w.confidence_component,
       w.early_entry_component,
       w.win_rate, w.profit_factor, w.sharpe_ratio, w.edge, w.total_pnl, w.maker_share, w.markets_traded,
       w.is_market_maker, w.is_wash_trader
FROM flow.score_snapshots s
JOIN flow.wallet_scores w USING (snapshot_id);
COMMENT ON VIEW wallet_scores IS
    'Every score snapshot: a wallet''s 0-10 score and its components as known at as_of_block (markets resolved and fills up to it, nothing later). SELECT flow.take_score_snapshot() takes one now.';
COMMENT ON COLUMN wallet_scores.score IS '10 x weighted mean of the components (weights score_weight_* in strategy.parameters).';
COMMENT ON COLUMN wallet_scores.as_of_block IS 'Last block whose data the snapshot could see.';
COMMENT ON COLUMN wallet_scores.as_of_time IS 'Time of as_of_block: a backtest at time T uses the newest snapshot with as_of_time <= T.';
COMMENT ON COLUMN wallet_scores.reason IS 'Who took it: schedule (the indexer), manual, backtest or bench.';
COMMENT ON COLUMN wallet_scores.win_component IS 'Win rate shrunk toward the population by score_prior_positions (weight score_weight_win_rate).';
COMMENT ON COLUMN wallet_scores.profit_factor_component IS 'pf / (1 + pf), shrunk toward the population (weight score_weight_profit_factor).';
COMMENT ON COLUMN wallet_scores.consistency_component IS 'Logistic of the Sharpe ratio, shrunk toward the population (weight score_weight_consistency).';
COMMENT ON COLUMN wallet_scores.confidence_component IS 'n / (n + min_resolved_positions) (weight score_weight_confidence).';
COMMENT ON COLUMN wallet_scores.early_entry_component IS '1 / (1 + avg_entry_minute / early_entry_minutes), shrunk toward the population (weight score_weight_early_entry).';

CREATE VIEW wallet_scores_now AS
SELECT * FROM wallet_scores WHERE snapshot_id = flow.snapshot_at();
COMMENT ON VIEW wallet_scores_now IS
    'The newest score snapshot: each wallet''s score 0-10 with its components. SELECT flow.take_score_snapshot() to take a new one.';
