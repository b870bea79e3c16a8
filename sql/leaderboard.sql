-- Wallets by PnL: realised plus resolved positions closed at their payout (open positions count
-- only what is realised). Scores come with wallet_stats; this is the raw money view.
--   psql -f sql/leaderboard.sql
SELECT wallet_address,
       count(*)                                   AS positions,
       count(*) FILTER (WHERE resolved)           AS resolved_positions,
       count(*) FILTER (WHERE resolved AND pnl > 0) AS won,
       round(sum(cost))                           AS invested,
       round(sum(pnl))                            AS pnl,
       round(100 * sum(pnl) / nullif(sum(cost), 0), 1) AS return_pct
FROM positions
GROUP BY wallet_address
ORDER BY sum(pnl) DESC
LIMIT 50;
