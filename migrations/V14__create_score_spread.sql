-- Shrunk components keep raw scores within a few points of the population's; the score spreads
-- them around 5 so that thresholds such as follow_min 7 and fade_max 3 mean "well above" and
-- "well below" the typical wallet.
INSERT INTO strategy.parameters (name, value, description) VALUES
    ('score_spread', 1.15,
     'Score points per standard deviation of raw scores (wallets past min_resolved_positions) around 5: score = 5 + score_spread * z, clamped to 0-10; with 1.15, 7 is 1.75 sd above the typical wallet. 0: the raw weighted score.')
ON CONFLICT (name) DO NOTHING;
