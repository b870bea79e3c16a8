-- Outcome tokens, derived on chain: token_id -> condition, outcome index, neg-risk.
-- Filled by the importer from ConditionPreparation (every generation) and V1 TokenRegistered,
-- with token ids computed as ConditionalTokens does (CTHelpers, alt_bn128 collection ids).
CREATE TABLE market.tokens (
    token_id      numeric(78,0) PRIMARY KEY,
    condition_id  bytea    NOT NULL,
    outcome_index smallint NOT NULL,
    neg_risk      boolean  NOT NULL,
    collateral    bytea    NOT NULL,
    source        text     NOT NULL CHECK (source IN ('condition_preparation', 'token_registered')),
    block_number  bigint   NOT NULL,
    log_index     integer  NOT NULL
);
CREATE INDEX tokens_condition ON market.tokens (condition_id);
CREATE INDEX tokens_condition_hex ON market.tokens (('0x' || encode(condition_id, 'hex')));
CREATE INDEX tokens_block ON market.tokens (block_number);

-- TokenRegistered pairs whose token ids match no derivation (kept, not trusted).
CREATE TABLE market.unmatched_tokens (
    token_id     numeric(78,0) PRIMARY KEY,
    condition_id bytea   NOT NULL,
    block_number bigint  NOT NULL,
    log_index    integer NOT NULL
);

-- Human labels (filled by off-chain enrichment when available; never needed for accounting).
CREATE TABLE market.labels (
    condition_id   bytea PRIMARY KEY,
    question       text,
    slug           text,
    category       text,
    outcome_labels text[]
);

-- Per-wallet totals, maintained by statement-level triggers on chain.order_filled.
CREATE TABLE flow.wallet_totals (
    wallet            bytea PRIMARY KEY,
    first_seen_block  bigint NOT NULL,
    first_seen        timestamptz,
    last_active_block bigint NOT NULL,
    last_active       timestamptz,
    total_trades      bigint NOT NULL,
    total_volume      bigint NOT NULL
);
CREATE INDEX wallet_totals_hex ON flow.wallet_totals (('0x' || encode(wallet, 'hex')));
