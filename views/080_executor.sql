-- What the executor did, for analysts: decisions and paper positions. Schema exec itself is
-- private; these views show only trading numbers (there are no secrets in them).

DROP VIEW IF EXISTS executor_decisions CASCADE;
CREATE VIEW executor_decisions AS
SELECT d.decision_id, d.account, d.decided_at, d.kind, d.outcome, d.reason,
       d.signal_id, s.action, d.position_id, d.order_id, d.token_id,
       d.confidence, d.signal_age_secs, d.price, d.fee_per_share, d.kelly, d.fraction,
       d.equity, d.cash, d.deployed, d.open_positions, d.day_start_equity,
       d.stake, d.shares, d.fee, d.detail
FROM exec.decisions d
LEFT JOIN strategy.signals s ON s.signal_id = d.signal_id;
COMMENT ON VIEW executor_decisions IS
    'Every executor decision: entries placed, skipped (reason: stale, kill_switch, daily_loss_halt, max_open_positions, no_price, no_edge, deployed_cap, no_cash, too_small, order_failed) or, live, rejected by the CLOB after they were placed (detail: the CLOB''s reason), and exits (resolved, stop_loss), with the numbers it used.';
COMMENT ON COLUMN executor_decisions.reason IS 'placed entries: sized (the Kelly stake), or capped_position / capped_deployed / capped_cash when a limit cut it; skipped entries: why; exits: resolved or stop_loss.';
COMMENT ON COLUMN executor_decisions.price IS 'Entry: the broker''s buy price (paper: recent trade + slippage; live: the CLOB''s best ask); exit: the sale price (live: the sell''s limit) or the payout per share.';
COMMENT ON COLUMN executor_decisions.kelly IS 'Full Kelly fraction f* = (p(b+1) - 1) / b, p = confidence, b = (1 - q) / q, q = price + fee_per_share.';
COMMENT ON COLUMN executor_decisions.fraction IS 'f* x kelly_fraction clamped to [0, max_position_fraction]: the share of equity the signal asked for.';
COMMENT ON COLUMN executor_decisions.equity IS 'Cash plus open positions at their marks, when the decision was made.';
COMMENT ON COLUMN executor_decisions.deployed IS 'Open positions at cost, before this decision.';
COMMENT ON COLUMN executor_decisions.stake IS 'USDC committed by the order, fees included (live: the reserve held back until its fills settle).';

DROP VIEW IF EXISTS paper_positions CASCADE;
CREATE VIEW paper_positions AS
SELECT p.position_id, p.account, p.token_id, chain.hex(p.condition_id) AS market_id, p.outcome_index,
       p.status, p.shares, round(p.cost / nullif(p.shares, 0), 6) AS avg_price, p.cost, p.fees,
       p.last_price AS mark,
       CASE WHEN p.status = 'open' THEN round(p.shares * p.last_price - p.cost, 6) END AS unrealized_pnl,
       p.opened_at, p.first_signal_id, p.closed_at, p.close_reason, p.exit_price, p.proceeds,
       p.realized_pnl
FROM exec.positions p
JOIN exec.accounts a ON a.account = p.account AND a.mode = 'paper';
COMMENT ON VIEW paper_positions IS
    'Paper positions of the executor: open ones marked at the token''s last trade, closed ones with how (resolved at the payout, or stop_loss) and their realised PnL.';
COMMENT ON COLUMN paper_positions.avg_price IS 'Cost per share, fees included; stop_loss is measured against it.';
COMMENT ON COLUMN paper_positions.unrealized_pnl IS 'Open positions: shares x mark - cost.';
COMMENT ON COLUMN paper_positions.realized_pnl IS 'Closed positions: proceeds - cost.';

DROP VIEW IF EXISTS paper_account CASCADE;
CREATE VIEW paper_account AS
SELECT a.account, a.starting_capital, a.cash,
       a.cash + coalesce(v.value, 0) AS equity,
       coalesce(v.deployed, 0) AS deployed,
       coalesce(v.open_positions, 0) AS open_positions,
       a.cash + coalesce(v.value, 0) - a.starting_capital AS total_pnl,
       d.start_equity AS day_start_equity,
       a.cash + coalesce(v.value, 0) - d.start_equity AS daily_pnl,
       d.halted_at AS halted_today_at
FROM exec.accounts a
LEFT JOIN LATERAL (
    SELECT sum(p.shares * coalesce(flow.payout(p.condition_id, p.outcome_index), p.last_price,
                                   p.cost / nullif(p.shares, 0))) AS value,
           sum(p.cost) AS deployed,
           count(*) AS open_positions
    FROM exec.positions p
    WHERE p.account = a.account AND p.status = 'open') v ON true
LEFT JOIN exec.account_days d ON d.account = a.account AND d.day = (now() AT TIME ZONE 'UTC')::date
WHERE a.mode = 'paper';
COMMENT ON VIEW paper_account IS
    'Each paper account now: cash, equity (open positions at their last trade, or the payout once resolved), capital deployed at cost, PnL in total and since the start of the UTC day, and whether entries are halted today (daily_loss_limit).';
COMMENT ON COLUMN paper_account.day_start_equity IS 'Equity at the executor''s first decision of the UTC day; NULL before it.';
