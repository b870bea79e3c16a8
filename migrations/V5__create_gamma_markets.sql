-- Market metadata from Polymarket's Gamma API: titles, categories, outcome labels and trading
-- parameters. Off-chain enrichment only: accounting never reads these tables, and market.tokens
-- (derived on chain) stays the truth for which token is which outcome. Small tables (one row per
-- market or event), fit to become Citus reference tables.

-- One row per Gamma market (a CTF condition), as Gamma last described it.
CREATE TABLE market.gamma_markets (
    condition_id       bytea PRIMARY KEY CHECK (octet_length(condition_id) = 32),
    gamma_id           text    NOT NULL,
    question           text,
    slug               text,
    category           text,
    event_id           text,
    group_item_title   text,
    outcomes           text[],
    outcome_prices     numeric[],
    clob_token_ids     numeric(78,0)[],
    -- Token ids derived (CTHelpers) from the condition and the collateral Gamma's negRisk implies;
    -- only filled while the chain has not shown the condition (market.tokens is used otherwise).
    derived_token_ids  numeric(78,0)[],
    question_id        bytea,
    neg_risk           boolean,
    neg_risk_market_id bytea,
    end_date           timestamptz,
    tick_size          numeric,
    min_order_size     numeric,
    active             boolean,
    closed             boolean,
    archived           boolean,
    resolution_status  text,
    token_check        text NOT NULL DEFAULT 'unchecked'
                       CHECK (token_check IN ('unchecked', 'ok', 'mismatch')),
    token_check_source text CHECK (token_check_source IN ('chain', 'derived')),
    token_check_detail text,
    checked_at         timestamptz,
    source             text NOT NULL CHECK (source IN ('api', 'file')),
    fetched_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX gamma_markets_event ON market.gamma_markets (event_id);
CREATE INDEX gamma_markets_mismatch ON market.gamma_markets (condition_id) WHERE token_check = 'mismatch';

-- Gamma events (groups of markets): titles, categories and tags.
CREATE TABLE market.gamma_events (
    event_id   text PRIMARY KEY,
    title      text,
    slug       text,
    category   text,
    tags       text[],
    neg_risk   boolean,
    end_date   timestamptz,
    closed     boolean,
    source     text NOT NULL CHECK (source IN ('api', 'file')),
    fetched_at timestamptz NOT NULL DEFAULT now()
);

-- Gamma records that could not be read, kept with the reason (like chain.bad_logs); a record
-- that later reads cleanly is removed from here.
CREATE TABLE market.gamma_rejects (
    kind      text NOT NULL CHECK (kind IN ('market', 'event')),
    gamma_id  text NOT NULL,
    reason    text NOT NULL,
    record    jsonb,
    source    text NOT NULL CHECK (source IN ('api', 'file')),
    seen_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, gamma_id)
);

-- Conditions seen on chain that the refresher asked Gamma about, so that a condition Gamma does
-- not know is asked again later (with growing delays), not on every cycle.
CREATE TABLE market.gamma_lookups (
    condition_id  bytea PRIMARY KEY,
    attempts      integer NOT NULL,
    found         boolean NOT NULL,
    last_tried_at timestamptz NOT NULL,
    next_try_at   timestamptz NOT NULL
);
CREATE INDEX gamma_lookups_due ON market.gamma_lookups (next_try_at) WHERE NOT found;

-- market.labels is what the analyst relations show. Rows from Gamma are marked so a sync never
-- overwrites labels an analyst wrote by hand (source 'manual').
ALTER TABLE market.labels
    ADD COLUMN event_title text,
    ADD COLUMN tags        text[],
    ADD COLUMN source      text NOT NULL DEFAULT 'manual' CHECK (source IN ('manual', 'gamma')),
    ADD COLUMN updated_at  timestamptz NOT NULL DEFAULT now();
COMMENT ON COLUMN market.labels.source IS
    'gamma: written by `orderflow markets sync|import` and the refresher; manual (the default): an analyst''s own, never overwritten. Set to manual to keep a hand edit.';

INSERT INTO strategy.parameters (name, value, description) VALUES
    ('gamma_lookup_batch', 200,
     'Conditions newly seen on chain that the label refresher looks up on Gamma per cycle'),
    ('gamma_lookup_retry_secs', 3600,
     'Seconds before the refresher asks Gamma again about a condition it did not know (doubles per attempt, at most a day)')
ON CONFLICT (name) DO NOTHING;
