-- One wallet's positions with their PnL, open ones first.
--   psql -v wallet="'0xabc…'" -f sql/wallet_positions.sql
SELECT market_id, outcome_index, shares, avg_price, cost, realized_pnl, payout, settled_pnl, pnl,
       opened_at, last_change_at
FROM positions
WHERE wallet_address = lower(:wallet)
ORDER BY resolved, last_change_at DESC
LIMIT 200;
