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
COMMENT ON VIEW wallets IS 'Every wallet that filled an order: first and last activity, fill count and USDC volume (kept from the ledger''s fill rows as positions are: at once, or by flow.derive after the indexer).';
COMMENT ON COLUMN wallets.total_trades IS 'Order fills credited to this wallet (trades rows).';
COMMENT ON COLUMN wallets.total_volume IS 'USDC paid or received over all its fills, gross.';

-- wallet_markets: one wallet's fills broken down by market, with the market's title, category
-- and outcome labels. A filter on wallet_address reaches the index on chain.order_filled.
DROP VIEW IF EXISTS wallet_markets CASCADE;
CREATE VIEW wallet_markets AS
SELECT t.wallet_address,
       t.market_id,
       t.market_title,
       t.category,
       array_agg(DISTINCT t.outcome) AS outcomes_traded,
       count(*) AS fills,
       count(*) FILTER (WHERE t.side = 'BUY') AS buys,
       count(*) FILTER (WHERE t.side = 'SELL') AS sells,
       coalesce(sum(t.size) FILTER (WHERE t.side = 'BUY'), 0) AS shares_bought,
       coalesce(sum(t.size) FILTER (WHERE t.side = 'SELL'), 0) AS shares_sold,
       coalesce(sum(t.usdc) FILTER (WHERE t.side = 'BUY'), 0) AS usdc_paid,
       coalesce(sum(t.usdc) FILTER (WHERE t.side = 'SELL'), 0) AS usdc_received,
       sum(t.fee) AS fees,
       min(t.block_time) AS first_trade,
       max(t.block_time) AS last_trade
FROM trades t
GROUP BY t.wallet_address, t.market_id, t.market_title, t.category;
COMMENT ON VIEW wallet_markets IS 'Per wallet and market: fills, shares and USDC each way, with the market''s title and category (labels from `orderflow markets sync`). Filter on wallet_address.';
COMMENT ON COLUMN wallet_markets.outcomes_traded IS 'Labels of the outcomes this wallet traded in the market (Yes/No, Up/Down, candidates).';

-- wallet_categories: one wallet's activity per market category (NULL: markets without labels).
DROP VIEW IF EXISTS wallet_categories CASCADE;
CREATE VIEW wallet_categories AS
SELECT t.wallet_address,
       t.category,
       count(DISTINCT t.market_id) AS markets,
       count(*) AS fills,
       sum(t.usdc) AS volume,
       min(t.block_time) AS first_trade,
       max(t.block_time) AS last_trade
FROM trades t
GROUP BY t.wallet_address, t.category;
COMMENT ON VIEW wallet_categories IS 'Per wallet and Gamma category: markets, fills and USDC volume. Filter on wallet_address.';
