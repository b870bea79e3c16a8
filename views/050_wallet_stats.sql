-- wallet_stats: per-wallet track record from resolved positions (a position counts once, not
-- per fill), as known now: flow.wallet_stats_at(NULL) (functions/060_scores.sql), with the
-- labels that keep a wallet from being followed. Refreshed with
-- REFRESH MATERIALIZED VIEW CONCURRENTLY wallet_stats.

DROP MATERIALIZED VIEW IF EXISTS wallet_stats CASCADE;
CREATE MATERIALIZED VIEW wallet_stats AS
SELECT chain.hex(s.wallet) AS wallet_address,
       s.resolved_positions, s.profitable_trades, s.losing_trades, s.win_rate, s.avg_profit_pct,
       s.avg_position_size, s.avg_entry_minute, s.total_pnl, s.profit_factor, s.sharpe_ratio,
       s.confidence_score, s.edge, s.maker_share, s.markets_traded, s.fills, s.tight_round_trips,
       s.is_market_maker, s.is_wash_trader
FROM flow.wallet_stats_at(NULL) s;
CREATE UNIQUE INDEX wallet_stats_wallet ON wallet_stats (wallet_address);
COMMENT ON MATERIALIZED VIEW wallet_stats IS
    'Per-wallet track record over resolved positions (one per wallet and outcome token), as known now. REFRESH MATERIALIZED VIEW CONCURRENTLY wallet_stats to update; flow.wallet_stats_at(block) gives it as known at a past block.';
COMMENT ON COLUMN wallet_stats.resolved_positions IS 'Positions (wallet, outcome token) bought into whose market has resolved.';
COMMENT ON COLUMN wallet_stats.profitable_trades IS 'Resolved positions with pnl > 0.';
COMMENT ON COLUMN wallet_stats.losing_trades IS 'Resolved positions with pnl < 0.';
COMMENT ON COLUMN wallet_stats.win_rate IS 'Share of resolved positions that made money (per position, not per fill).';
COMMENT ON COLUMN wallet_stats.avg_profit_pct IS 'Mean of pnl / cost over resolved positions.';
COMMENT ON COLUMN wallet_stats.avg_position_size IS 'Mean USDC paid into a resolved position.';
COMMENT ON COLUMN wallet_stats.avg_entry_minute IS 'Mean minutes from market creation to the position''s first acquisition.';
COMMENT ON COLUMN wallet_stats.total_pnl IS 'Sum of pnl over resolved positions, USDC (payout for held shares, fees included).';
COMMENT ON COLUMN wallet_stats.profit_factor IS 'Gains of winning resolved positions over losses of losing ones.';
COMMENT ON COLUMN wallet_stats.sharpe_ratio IS 'Mean over standard deviation of profit_pct across resolved positions.';
COMMENT ON COLUMN wallet_stats.confidence_score IS 'n / (n + min_resolved_positions) for n resolved positions: how much the record can be trusted.';
COMMENT ON COLUMN wallet_stats.edge IS 'Mean of payout minus average entry price over resolved positions: skill beyond the price paid.';
COMMENT ON COLUMN wallet_stats.maker_share IS 'Share of the wallet''s fills where its order rested on the book (maker).';
COMMENT ON COLUMN wallet_stats.markets_traded IS 'Markets (conditions) the wallet has bought into.';
COMMENT ON COLUMN wallet_stats.fills IS 'OrderFilled events of the wallet''s orders.';
COMMENT ON COLUMN wallet_stats.is_market_maker IS 'Quotes both sides across many markets (mm_* parameters): its record is spread capture, not a view on outcomes; not followed.';
COMMENT ON COLUMN wallet_stats.tight_round_trips IS 'Positions sold back out within wash_round_trip_minutes of the first buy at about the price paid (realised PnL within wash_round_trip_max_pnl of cost).';
COMMENT ON COLUMN wallet_stats.is_wash_trader IS 'Matches against itself in at least wash_min_self_share of its fills, or makes tight round trips (at least wash_min_round_trips, and wash_min_round_trip_share of its closed positions); not followed.';
