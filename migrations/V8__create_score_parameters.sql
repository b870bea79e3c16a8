-- Tunables of wallet statistics and scores.
INSERT INTO strategy.parameters (name, value, description) VALUES
    ('min_resolved_positions', 5,
     'Resolved positions a wallet needs before its statistics count at full weight; confidence = n / (n + this).')
ON CONFLICT (name) DO NOTHING;
