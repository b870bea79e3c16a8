-- Analyst relations over flow.positions (functions/050_positions.sql keeps it up to date).

DROP VIEW IF EXISTS positions CASCADE;
CREATE VIEW positions AS
SELECT chain.hex(p.wallet) AS wallet_address,
       p.token_id,
       chain.hex(t.condition_id) AS market_id,
       t.outcome_index,
       (p.amount / 1e6)::numeric(20,6) AS shares,
       round(p.avg_price, 6) AS avg_price,
       (p.total_bought / 1e6)::numeric(20,6) AS shares_bought,
       (p.total_cost / 1e6)::numeric(20,6) AS cost,
       (p.realized_pnl / 1e6)::numeric(20,6) AS realized_pnl,
       pay.payout,
       pay.payout IS NOT NULL AS resolved,
       (CASE WHEN pay.payout IS NOT NULL THEN p.amount * (pay.payout - p.avg_price) ELSE 0 END / 1e6)::numeric(20,6)
           AS settled_pnl,
       ((p.realized_pnl + CASE WHEN pay.payout IS NOT NULL THEN p.amount * (pay.payout - p.avg_price) ELSE 0 END)
           / 1e6)::numeric(20,6) AS pnl,
       coalesce(p.first_buy_time, p.first_time) AS opened_at,
       p.last_time AS last_change_at
FROM flow.positions p
LEFT JOIN market.tokens t ON t.token_id = p.token_id
LEFT JOIN LATERAL (SELECT flow.payout(t.condition_id, t.outcome_index) AS payout) pay ON true;
COMMENT ON VIEW positions IS
    'One row per wallet and outcome token: shares held, average cost (fees included), realised PnL, and at resolution the held shares closed at their payout whether redeemed or not.';
COMMENT ON COLUMN positions.avg_price IS 'Average cost per share still held, fees included (0 when nothing is held).';
COMMENT ON COLUMN positions.realized_pnl IS 'USDC realised by sells, merges (at 0.5 a leg) and redemptions, against the average cost.';
COMMENT ON COLUMN positions.payout IS 'Value of one share at resolution (1, 0, 0.5 for a 50/50); NULL while the market is open.';
COMMENT ON COLUMN positions.settled_pnl IS 'Held shares closed at the payout once resolved (shares * (payout - avg_price)); 0 while open.';
COMMENT ON COLUMN positions.pnl IS 'realized_pnl + settled_pnl. Open positions count only what is realised.';
