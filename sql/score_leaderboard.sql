-- The skilled wallets now: the newest score snapshot, best first, with what each score is made
-- of. Market makers and wash traders are shown but marked (they are never followed).
--   psql -f sql/score_leaderboard.sql
SELECT wallet_address, score, resolved_positions AS resolved, win_rate, profit_factor, sharpe_ratio,
       edge, round(total_pnl) AS pnl, maker_share,
       CASE WHEN is_market_maker THEN 'market maker' WHEN is_wash_trader THEN 'wash' ELSE '' END AS label,
       as_of_time
FROM wallet_scores_now
ORDER BY score DESC
LIMIT 50;
