-- One wallet's fills, newest first.   psql -v wallet="'0xabc…'" -f sql/wallet_trades.sql
SELECT block_time, market_id, outcome, side, role, price, size, usdc, fee, tx_hash
FROM trades
WHERE wallet_address = lower(:wallet)
ORDER BY block_number DESC, log_index DESC
LIMIT 100;
