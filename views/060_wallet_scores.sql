-- wallet_scores_now: the 0-10 score of every wallet from wallet_stats, with its components.
-- Every component lies in [0, 1] and is pulled toward the population's value by a prior worth
-- score_prior_positions resolved positions, so a short lucky record cannot outrank a long good
-- one; below min_resolved_positions a wallet keeps the population's components exactly.

DROP VIEW IF EXISTS wallet_scores_now CASCADE;
CREATE VIEW wallet_scores_now AS
WITH p AS (
    SELECT strategy.param('score_weight_win_rate')      AS w_win,
           strategy.param('score_weight_profit_factor') AS w_pf,
           strategy.param('score_weight_consistency')   AS w_cons,
           strategy.param('score_weight_confidence')    AS w_conf,
           strategy.param('score_weight_early_entry')   AS w_early,
           strategy.param('score_prior_positions')      AS prior,
           strategy.param('min_resolved_positions')     AS min_n,
           strategy.param('early_entry_minutes')        AS early_min
),
raw AS (
    SELECT s.*,
           coalesce(s.profit_factor / (1 + s.profit_factor), CASE WHEN s.profitable_trades > 0 THEN 1 ELSE 0 END) AS pf_unit,
           1 / (1 + exp(-least(greatest(coalesce(s.sharpe_ratio, 0), -30), 30))) AS cons_unit,
           1 / (1 + greatest(coalesce(s.avg_entry_minute, 0), 0) / (SELECT early_min FROM p)) AS early_unit
    FROM wallet_stats s
    WHERE s.resolved_positions > 0
),
pop AS (   -- the population, weighting every resolved position equally
    SELECT sum(profitable_trades)::numeric / nullif(sum(resolved_positions), 0) AS win,
           sum(pf_unit * resolved_positions) / nullif(sum(resolved_positions), 0) AS pf,
           sum(cons_unit * resolved_positions) / nullif(sum(resolved_positions), 0) AS cons,
           sum(early_unit * resolved_positions) / nullif(sum(resolved_positions), 0) AS early
    FROM raw
),
c AS (
    SELECT r.wallet_address, r.resolved_positions, r.win_rate, r.profit_factor, r.sharpe_ratio,
           r.edge, r.total_pnl, r.maker_share, r.confidence_score,
           CASE WHEN r.resolved_positions < p.min_n THEN 0
                ELSE r.resolved_positions / (r.resolved_positions + p.prior) END AS k,
           pop.*, r.pf_unit, r.cons_unit, r.early_unit, r.profitable_trades
    FROM raw r CROSS JOIN p CROSS JOIN pop
),
comp AS (
    SELECT c.*,
           c.k * (c.profitable_trades::numeric / c.resolved_positions) + (1 - c.k) * c.win AS win_component,
           c.k * c.pf_unit + (1 - c.k) * c.pf AS pf_component,
           c.k * c.cons_unit + (1 - c.k) * c.cons AS consistency_component,
           c.k * c.early_unit + (1 - c.k) * c.early AS early_component
    FROM c
)
SELECT comp.wallet_address,
       round(10 * (p.w_win * win_component + p.w_pf * pf_component + p.w_cons * consistency_component
                   + p.w_conf * comp.confidence_score + p.w_early * early_component)
                / nullif(p.w_win + p.w_pf + p.w_cons + p.w_conf + p.w_early, 0), 3) AS score,
       comp.resolved_positions,
       round(win_component, 4) AS win_component,
       round(pf_component, 4) AS profit_factor_component,
       round(consistency_component, 4) AS consistency_component,
       comp.confidence_score AS confidence_component,
       round(early_component, 4) AS early_entry_component,
       comp.win_rate, comp.profit_factor, comp.sharpe_ratio, comp.edge, comp.total_pnl, comp.maker_share
FROM comp CROSS JOIN p;
COMMENT ON VIEW wallet_scores_now IS
    'Wallet score 0-10 from wallet_stats (refresh it first): weighted components, each shrunk toward the population by score_prior_positions; weights in strategy.parameters.';
COMMENT ON COLUMN wallet_scores_now.score IS '10 x weighted mean of the components (weights score_weight_* in strategy.parameters).';
