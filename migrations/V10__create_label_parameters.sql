-- Thresholds of the wallet labels in wallet_stats.
INSERT INTO strategy.parameters (name, value, description) VALUES
    ('mm_min_maker_share', 0.6, 'Market maker: at least this share of its fills rest on the book (maker).'),
    ('mm_min_two_sided',   0.5, 'Market maker: holds both outcomes in at least this share of its markets (it quotes both sides).'),
    ('mm_min_markets',     5,   'Market maker: active in at least this many markets.'),
    ('wash_min_self_share', 0.05, 'Wash trading: at least this share of its fills matched against itself (maker = taker).')
ON CONFLICT (name) DO NOTHING;
