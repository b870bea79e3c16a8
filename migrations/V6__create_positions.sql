-- Wallet positions and PnL, average-cost accounting as Polymarket's own PnL subgraph does it.
--
-- flow.ledger holds one row per change of a wallet's holding of one outcome token, derived by
-- statement-level triggers from the chain.* event tables (functions/050_positions.sql):
-- fills, splits and merges (as buys and sells of each leg at 0.5), redemptions. flow.positions
-- folds the ledger in chain order per (wallet, token). Amounts are micro-units (6 decimals).

-- Contracts whose own splits, merges and redemptions are plumbing, not a wallet's trades
-- (an exchange minting for a MINT match, the NegRiskAdapter acting for a user whose own
-- adapter event is counted instead).
CREATE TABLE flow.internal_addresses (
    address bytea PRIMARY KEY,
    what    text NOT NULL
);
INSERT INTO flow.internal_addresses (address, what) VALUES
    ('\x4bfb41d5b3570defd03c39a9a4d8de6bd8b8982e', 'CTF Exchange V1'),
    ('\xc5d563a36ae78145c45a50134d48a1215220f80a', 'NegRisk CTF Exchange V1'),
    ('\xe111180000d2663c0091e4f400237545b87b996b', 'CTF Exchange V2'),
    ('\xe2222d279d744050d28e00520010520000310f59', 'NegRisk CTF Exchange V2'),
    ('\xe2222d002000ba0053cef3375333610f64600036', 'NegRisk CTF Exchange V2 (early)'),
    ('\xd91e80cf2e7be2e162c6513ced06f1dd0da35296', 'NegRiskAdapter');

CREATE TABLE flow.ledger (
    block_number bigint   NOT NULL,
    log_index    integer  NOT NULL,
    sub          smallint NOT NULL,   -- leg within the event (outcome index for splits/merges/redemptions)
    wallet       bytea    NOT NULL,
    token_id     numeric(78,0) NOT NULL,
    kind         text     NOT NULL CHECK (kind IN ('buy', 'sell', 'split', 'merge', 'redeem', 'convert')),
    qty          bigint,              -- shares in (+) or out (-); NULL: all held (CTF redemption)
    cash         bigint,              -- collateral to the wallet (+) or from it (-), fees included;
                                      -- NULL: redeem all (qty NULL) or give up shares at their average cost
    payout       numeric,             -- redemption value per share (1, 0, 0.5, ...)
    block_time   timestamptz,
    PRIMARY KEY (block_number, log_index, sub, wallet)
);
-- Recomputing a position (a late row, a reorg) reads its ledger rows by wallet. Hash indexes:
-- equality lookups only, and far cheaper than a btree to keep up on random keys during bulk loads.
CREATE INDEX ledger_wallet ON flow.ledger USING hash (wallet);

CREATE TABLE flow.positions (
    wallet            bytea NOT NULL,
    token_id          numeric(78,0) NOT NULL,
    amount            bigint  NOT NULL,   -- shares held (micro)
    avg_price         numeric NOT NULL,   -- cost per share of what is held, fees included
    realized_pnl      numeric NOT NULL,   -- micro-USDC realised by sells, merges, redemptions
    total_bought      bigint  NOT NULL,   -- shares ever acquired (micro)
    total_cost        numeric NOT NULL,   -- collateral ever paid for them (micro)
    first_block       bigint  NOT NULL,
    first_time        timestamptz,
    last_block        bigint  NOT NULL,
    last_log_index    integer NOT NULL,
    last_sub          smallint NOT NULL,
    last_time         timestamptz,
    PRIMARY KEY (wallet, token_id)
);
CREATE INDEX positions_token ON flow.positions USING hash (token_id);
