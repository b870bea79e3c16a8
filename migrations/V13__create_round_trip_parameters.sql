-- Wash trading by tight round trips: a position bought and sold back out within minutes at
-- about the price paid moves volume without taking a view.
INSERT INTO strategy.parameters (name, value, description) VALUES
    ('wash_round_trip_minutes',   10,    'Tight round trip: a position fully sold back within this many minutes of its first buy...'),
    ('wash_round_trip_max_pnl',   0.005, '...whose realised PnL is within this fraction of its cost (about the price paid).'),
    ('wash_min_round_trips',      3,     'Wash trading: at least this many tight round trips...'),
    ('wash_min_round_trip_share', 0.5,   '...making up at least this share of the wallet''s closed positions.')
ON CONFLICT (name) DO NOTHING;
