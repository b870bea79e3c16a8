-- Weights and normalisations of the 0-10 wallet score (views/060_wallet_scores.sql).
INSERT INTO strategy.parameters (name, value, description) VALUES
    ('score_weight_win_rate',      0.40, 'Score weight of the shrunk win rate.'),
    ('score_weight_profit_factor', 0.30, 'Score weight of the shrunk profit factor, as pf / (1 + pf).'),
    ('score_weight_consistency',   0.15, 'Score weight of consistency: the Sharpe ratio through a logistic.'),
    ('score_weight_confidence',    0.10, 'Score weight of the confidence score n / (n + min_resolved_positions).'),
    ('score_weight_early_entry',   0.05, 'Score weight of early entry: 1 / (1 + avg_entry_minute / early_entry_minutes).'),
    ('score_prior_positions',      20,   'Strength of the population prior, in resolved positions: a wallet with n resolved positions is weighted n / (n + this) against the population.'),
    ('early_entry_minutes',        60,   'Entry delay (minutes after market creation) at which the early-entry component is one half.')
ON CONFLICT (name) DO NOTHING;
