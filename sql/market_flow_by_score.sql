-- One market's order flow by the score band of the wallets behind it: who is buying and who is
-- selling each outcome, with each fill's wallet scored by the snapshot known at the fill's time
-- (unscored: no resolved position yet).
--   psql -v market="'0x<condition id>'" -f sql/market_flow_by_score.sql
SELECT t.outcome_index, t.outcome,
       CASE WHEN s.score IS NULL THEN 'unscored'
            WHEN s.score >= strategy.param('follow_min') THEN 'skilled (>= follow_min)'
            WHEN s.score <= strategy.param('fade_max')   THEN 'unskilled (<= fade_max)'
            ELSE 'middle' END AS score_band,
       count(DISTINCT t.wallet_address) AS wallets,
       round(sum(t.size) FILTER (WHERE t.side = 'BUY'))  AS shares_bought,
       round(sum(t.size) FILTER (WHERE t.side = 'SELL')) AS shares_sold,
       round(sum(CASE t.side WHEN 'BUY' THEN t.usdc ELSE -t.usdc END)) AS net_usdc_in,
       round(sum(t.usdc * t.price) / nullif(sum(t.usdc), 0), 3) AS usdc_weighted_price
FROM trades t
LEFT JOIN flow.wallet_scores s
       ON s.snapshot_id = flow.snapshot_at(t.block_time) AND s.wallet = decode(substr(t.wallet_address, 3), 'hex')
WHERE t.market_id = lower(:market)
GROUP BY 1, 2, 3
ORDER BY 1, 3;
