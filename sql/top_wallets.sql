-- The most active wallets by volume.
SELECT wallet_address, total_trades, total_volume, first_seen, last_active
FROM wallets
ORDER BY total_volume DESC
LIMIT 50;
