-- wallet_stats: per-wallet track record from resolved positions (a position counts once, not
-- per fill), refreshed with REFRESH MATERIALIZED VIEW CONCURRENTLY wallet_stats.

DROP MATERIALIZED VIEW IF EXISTS wallet_stats CASCADE;
CREATE MATERIALIZED VIEW wallet_stats AS
WITH pos AS (
    SELECT p.wallet_address, p.market_id, p.resolved, p.pnl, p.cost, p.payout,
           p.cost / nullif(p.shares_bought, 0) AS entry_price,
           p.pnl / nullif(p.cost, 0) AS profit_pct,
           extract(epoch FROM p.opened_at - m.created_at) / 60 AS entry_minute
    FROM positions p
    LEFT JOIN markets m ON m.market_id = p.market_id
    WHERE p.shares_bought > 0
),
two AS (   -- share of a wallet's markets where it held both outcomes
    SELECT wallet_address, avg((n_sides >= 2)::int) AS two_sided_share
    FROM (SELECT wallet_address, market_id, count(DISTINCT outcome_index) AS n_sides
          FROM positions WHERE shares_bought > 0 GROUP BY 1, 2) s
    GROUP BY 1
),
fills AS (
    SELECT chain.hex(maker) AS wallet_address,
           count(*) AS fills,
           count(*) FILTER (WHERE taker <> contract) AS maker_fills,
           count(*) FILTER (WHERE taker = maker) AS self_fills
    FROM chain.order_filled
    GROUP BY maker
)
SELECT pos.wallet_address,
       count(*) FILTER (WHERE resolved)                              AS resolved_positions,
       count(*) FILTER (WHERE resolved AND pnl > 0)                  AS profitable_trades,
       count(*) FILTER (WHERE resolved AND pnl < 0)                  AS losing_trades,
       round(count(*) FILTER (WHERE resolved AND pnl > 0)::numeric
             / nullif(count(*) FILTER (WHERE resolved), 0), 4)       AS win_rate,
       round(avg(profit_pct) FILTER (WHERE resolved), 4)             AS avg_profit_pct,
       round(avg(cost), 2)                                           AS avg_position_size,
       round(avg(entry_minute), 1)                                   AS avg_entry_minute,
       round(sum(pnl), 2)                                            AS total_pnl,
       round(sum(pnl) FILTER (WHERE resolved AND pnl > 0)
             / nullif(-sum(pnl) FILTER (WHERE resolved AND pnl < 0), 0), 4) AS profit_factor,
       round(avg(profit_pct) FILTER (WHERE resolved)
             / nullif(stddev_samp(profit_pct) FILTER (WHERE resolved), 0), 4) AS sharpe_ratio,
       round(count(*) FILTER (WHERE resolved)::numeric
             / (count(*) FILTER (WHERE resolved) + strategy.param('min_resolved_positions')), 4) AS confidence_score,
       round(avg(payout - entry_price) FILTER (WHERE resolved), 4)   AS edge,
       round(f.maker_fills::numeric / nullif(f.fills, 0), 4)         AS maker_share,
       count(DISTINCT market_id)                                     AS markets_traded,
       coalesce(f.fills, 0)                                          AS fills,
       coalesce(f.maker_fills::numeric / nullif(f.fills, 0) >= strategy.param('mm_min_maker_share')
                AND two.two_sided_share >= strategy.param('mm_min_two_sided')
                AND count(DISTINCT market_id) >= strategy.param('mm_min_markets'), false) AS is_market_maker,
       coalesce(f.self_fills::numeric / nullif(f.fills, 0) >= strategy.param('wash_min_self_share'), false) AS is_wash_trader
FROM pos
LEFT JOIN fills f USING (wallet_address)
LEFT JOIN two USING (wallet_address)
GROUP BY pos.wallet_address, f.fills, f.maker_fills, f.self_fills, two.two_sided_share;
CREATE UNIQUE INDEX wallet_stats_wallet ON wallet_stats (wallet_address);
COMMENT ON MATERIALIZED VIEW wallet_stats IS
    'Per-wallet track record over resolved positions (one per wallet and outcome token). REFRESH MATERIALIZED VIEW CONCURRENTLY wallet_stats to update.';
COMMENT ON COLUMN wallet_stats.win_rate IS 'Share of resolved positions that made money (per position, not per fill).';
COMMENT ON COLUMN wallet_stats.avg_profit_pct IS 'Mean of pnl / cost over resolved positions.';
COMMENT ON COLUMN wallet_stats.avg_entry_minute IS 'Mean minutes from market creation to the position''s first acquisition.';
COMMENT ON COLUMN wallet_stats.profit_factor IS 'Gains of winning resolved positions over losses of losing ones.';
COMMENT ON COLUMN wallet_stats.sharpe_ratio IS 'Mean over standard deviation of profit_pct across resolved positions.';
COMMENT ON COLUMN wallet_stats.confidence_score IS 'n / (n + min_resolved_positions) for n resolved positions: how much the record can be trusted.';
COMMENT ON COLUMN wallet_stats.edge IS 'Mean of payout minus average entry price over resolved positions: skill beyond the price paid.';
COMMENT ON COLUMN wallet_stats.is_market_maker IS 'Quotes both sides across many markets (mm_* parameters): its record is spread capture, not a view on outcomes; not followed.';
COMMENT ON COLUMN wallet_stats.is_wash_trader IS 'Matches against itself in at least wash_min_self_share of its fills; not followed.';
COMMENT ON COLUMN wallet_stats.maker_share IS 'Share of the wallet''s fills where its order rested on the book (maker).';
