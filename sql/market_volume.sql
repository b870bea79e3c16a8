-- Volume per market: only the taker fills count, each match once (maker fills mirror them).
SELECT market_id, count(*) AS matches, sum(usdc) AS volume_usdc,
       min(block_time) AS first_trade, max(block_time) AS last_trade
FROM trades
WHERE role = 'taker'
GROUP BY market_id
ORDER BY volume_usdc DESC
LIMIT 50;
