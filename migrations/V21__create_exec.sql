-- Execution state of the executor (src/exec): accounts and their capital, one row a day for
-- the daily-loss limit, positions, orders, fills and every decision with its numbers. Schema
-- exec stays private to the services (orderflow_analyst has no access); views/080_executor.sql
-- shows analysts the parts that hold no secret. Money in whole USDC, sizes in shares.

-- An account's capital. Every decision locks its row (FOR UPDATE), so two executors on one
-- account take turns and can never both pass a limit.
CREATE TABLE exec.accounts (
    account          text PRIMARY KEY CHECK (account ~ '^[a-z][a-z0-9_]*$'),
    mode             text    NOT NULL CHECK (mode IN ('paper', 'live')),
    starting_capital numeric NOT NULL CHECK (starting_capital >= 0),
    cash             numeric NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- The equity an account started each (UTC) day with; halted_at once the day's loss reached
-- daily_loss_limit (no new entries until the next day).
CREATE TABLE exec.account_days (
    account      text    NOT NULL REFERENCES exec.accounts,
    day          date    NOT NULL,
    start_equity numeric NOT NULL,
    halted_at    timestamptz,
    halt_equity  numeric,
    PRIMARY KEY (account, day)
);

-- One open position per account and outcome token (a later signal on the token adds to it).
CREATE TABLE exec.positions (
    position_id      bigserial PRIMARY KEY,
    account          text    NOT NULL REFERENCES exec.accounts,
    token_id         numeric(78,0) NOT NULL,
    condition_id     bytea,
    outcome_index    smallint,
    shares           numeric NOT NULL CHECK (shares >= 0),
    cost             numeric NOT NULL,          -- USDC paid for the shares held, fees included
    fees             numeric NOT NULL DEFAULT 0,
    status           text    NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    opened_at        timestamptz NOT NULL DEFAULT now(),
    first_signal_id  bigint,
    last_price       numeric,                   -- mark: the token's last trade price we have seen
    last_price_block bigint,
    last_price_log   integer,
    marked_at        timestamptz,
    closed_at        timestamptz,
    close_reason     text CHECK (close_reason IN ('resolved', 'stop_loss')),
    exit_price       numeric,                   -- payout per share, or the stop-loss sale price
    proceeds         numeric,                   -- USDC received at the close, net of fees
    realized_pnl     numeric                    -- proceeds - cost, at the close
);
CREATE UNIQUE INDEX positions_open ON exec.positions (account, token_id) WHERE status = 'open';

CREATE TABLE exec.orders (
    order_id        bigserial PRIMARY KEY,
    account         text    NOT NULL REFERENCES exec.accounts,
    broker          text    NOT NULL,           -- paper | clob
    signal_id       bigint,                     -- entries
    position_id     bigint  REFERENCES exec.positions,
    token_id        numeric(78,0) NOT NULL,
    side            smallint NOT NULL CHECK (side IN (0, 1)),   -- 0 BUY, 1 SELL
    shares          numeric NOT NULL,
    limit_price     numeric NOT NULL,
    status          text    NOT NULL CHECK (status IN ('filled', 'partial', 'unfilled', 'rejected')),
    broker_order_id text,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE exec.fills (
    fill_id   bigserial PRIMARY KEY,
    order_id  bigint  NOT NULL REFERENCES exec.orders,
    shares    numeric NOT NULL,
    price     numeric NOT NULL,
    fee       numeric NOT NULL,
    usdc      numeric NOT NULL,                 -- cash moved: negative paid, positive received
    filled_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX fills_order ON exec.fills (order_id);

-- Every decision: entries placed or skipped (and why), exits, with the numbers behind them.
CREATE TABLE exec.decisions (
    decision_id      bigserial PRIMARY KEY,
    account          text    NOT NULL REFERENCES exec.accounts,
    decided_at       timestamptz NOT NULL DEFAULT now(),
    kind             text    NOT NULL CHECK (kind IN ('entry', 'exit')),
    outcome          text    NOT NULL CHECK (outcome IN ('placed', 'skipped')),
    reason           text    NOT NULL,          -- placed: sized | capped_*; skipped: stale, kill_switch, ...; exits: resolved | stop_loss
    signal_id        bigint,
    position_id      bigint,
    order_id         bigint,
    token_id         numeric(78,0),
    confidence       numeric,
    signal_age_secs  numeric,
    price            numeric,                   -- the broker's quote (entry: buy price, exit: sale price or payout)
    fee_per_share    numeric,
    kelly            numeric,                   -- f* = (p(b+1) - 1) / b
    fraction         numeric,                   -- f* x kelly_fraction, clamped to [0, max_position_fraction]
    equity           numeric,
    cash             numeric,
    deployed         numeric,
    open_positions   integer,
    day_start_equity numeric,
    stake            numeric,                   -- USDC committed, fees included
    shares           numeric,
    fee              numeric,
    detail           text
);
CREATE INDEX decisions_signal ON exec.decisions (signal_id);
CREATE INDEX decisions_position ON exec.decisions (position_id);

INSERT INTO strategy.parameters (name, value, description) VALUES
    ('trading_enabled', 1,
     'Kill switch: 0 makes the executor skip every new signal (recorded as kill_switch); exits still run.'),
    ('kelly_fraction', 0.25,
     'Fraction of the Kelly stake taken: stake share = f* x this, f* = (p(b+1)-1)/b, p = confidence, b = (1-q)/q at all-in price q.'),
    ('max_position_fraction', 0.20,
     'At most this share of equity committed on one signal.'),
    ('max_open_positions', 5,
     'At most this many open positions per account (a signal on a token already held adds to it).'),
    ('max_deployed_fraction', 0.50,
     'At most this share of equity in open positions, at cost.'),
    ('stop_loss', 0.15,
     'A position marked this far below its average cost (fees included) is sold.'),
    ('daily_loss_limit', 0.10,
     'New entries stop for the rest of the UTC day once equity is this far below the day''s starting equity.'),
    ('signal_ttl_seconds', 180,
     'The executor skips (as stale) signals whose triggering fill is older than this.'),
    ('min_order_usdc', 1,
     'Smallest order the executor places, in USDC.'),
    ('paper_starting_capital', 10000,
     'USDC a new paper account starts with (read once, when the account is created).'),
    ('paper_slippage', 0.01,
     'Paper fills: buys at the recent trade price x (1 + this), sells x (1 - this).'),
    ('paper_price_window_seconds', 300,
     'Paper fills: only trades of the token this recent give a price; without one the signal is skipped (no_price).'),
    ('taker_fee_rate', 0.25,
     'V2 taker fee rate r: fee = shares x r x (p(1-p))^e (Polymarket sets r and e per market; this is the paper broker''s assumption).'),
    ('taker_fee_exponent', 2,
     'V2 taker fee exponent e: fee = shares x r x (p(1-p))^e.')
ON CONFLICT (name) DO NOTHING;
