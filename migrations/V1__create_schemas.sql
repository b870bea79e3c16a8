-- Schemas: chain (raw events as the contracts emitted them), market (tokens and markets),
-- flow (per-wallet aggregates), strategy (tunable numbers and strategy state), exec (orders).
CREATE SCHEMA IF NOT EXISTS chain;
CREATE SCHEMA IF NOT EXISTS market;
CREATE SCHEMA IF NOT EXISTS flow;
CREATE SCHEMA IF NOT EXISTS strategy;
CREATE SCHEMA IF NOT EXISTS exec;

-- Every tunable number lives here, editable with UPDATE from psql.
CREATE TABLE strategy.parameters (
    name        text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]*$'),
    value       numeric NOT NULL,
    description text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE strategy.parameters IS
    'Every tunable number of orderflow (partition sizes, score weights, thresholds, risk limits). UPDATE a value from psql; services read it at use.';

INSERT INTO strategy.parameters (name, value, description) VALUES
    ('partition_blocks', 2000000,
     'Blocks per partition of the big chain.* event tables. A change applies to partitions created afterwards.');
