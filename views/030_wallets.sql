-- wallets: one row per wallet that ever filled an order.
DROP VIEW IF EXISTS wallets CASCADE;
CREATE VIEW wallets AS
SELECT '0x' || encode(w.wallet, 'hex') AS wallet_address,
       w.first_seen,
       w.last_active,
       w.first_seen_block,
       w.last_active_block,
       w.total_trades,
       (w.total_volume / 1e6)::numeric(20,6) AS total_volume
FROM flow.wallet_totals w;
COMMENT ON VIEW wallets IS 'Every wallet that filled an order: first and last activity, fill count and USDC volume (kept by triggers on chain.order_filled).';
COMMENT ON COLUMN wallets.total_trades IS 'Order fills credited to this wallet (trades rows).';
COMMENT ON COLUMN wallets.total_volume IS 'USDC paid or received over all its fills, gross.';
