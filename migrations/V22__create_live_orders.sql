-- Live trading on the Polymarket CLOB (src/exec/live.rs). A live order is written here, signed,
-- and committed BEFORE it is posted: after a crash the row says what may be on the exchange,
-- and its EIP-712 hash finds the order on the CLOB and its fills on chain
-- (chain.order_filled.order_hash). Re-posting the stored body can never make a second order:
-- the exchange knows an order by its hash and fills it at most once.
--
-- Life of a live order (exec.orders.status):
--   signed   stored, its cash reserved, never posted (a crash here is provably unsent)
--   posted   a POST /order was started; the answer was not recorded (lost, or a crash)
--   live     the CLOB took it; waiting for its fills on chain
--   filled | partial | unfilled   settled: the chain's fills are final, the rest of the reserve
--            went back to cash
--   rejected the CLOB refused it (error says why); reserve returned
--   not_sent never reached the CLOB (unknown to it after a crash, no fills, or too old to post);
--            reserve returned
ALTER TABLE exec.orders DROP CONSTRAINT orders_status_check;
ALTER TABLE exec.orders ADD CONSTRAINT orders_status_check
    CHECK (status IN ('signed', 'posted', 'live', 'filled', 'partial', 'unfilled', 'rejected', 'not_sent'));

ALTER TABLE exec.orders
    ADD COLUMN order_hash    bytea,             -- EIP-712 digest = OrderFilled.orderHash = the CLOB's order id
    ADD COLUMN signature     bytea,
    ADD COLUMN body          text,              -- the POST /order body, byte for byte (no secret: owner is the API key id)
    ADD COLUMN order_type    text CHECK (order_type IN ('GTC', 'GTD', 'FOK', 'FAK')),
    ADD COLUMN clob_version  smallint,          -- the order struct's version (GET /version when signed)
    ADD COLUMN neg_risk      boolean,
    ADD COLUMN tick_size     numeric,
    ADD COLUMN maker_amount  bigint,            -- micro-units, as signed
    ADD COLUMN taker_amount  bigint,
    ADD COLUMN reserve       numeric NOT NULL DEFAULT 0,   -- USDC still held back from cash for fills to come
    ADD COLUMN filled_shares numeric NOT NULL DEFAULT 0,   -- sum of its fills so far
    ADD COLUMN clob_status   text,              -- the CLOB's own word: live, matched, delayed, unmatched, ORDER_STATUS_*
    ADD COLUMN error         text,              -- why it was rejected or not sent
    ADD COLUMN post_attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN posted_at     timestamptz,
    ADD COLUMN answered_at   timestamptz,
    ADD COLUMN settled_at    timestamptz;

CREATE UNIQUE INDEX orders_hash ON exec.orders (order_hash) WHERE order_hash IS NOT NULL;
-- One order per signal, whatever retries or restarts happen.
CREATE UNIQUE INDEX orders_signal ON exec.orders (signal_id) WHERE signal_id IS NOT NULL;
CREATE INDEX orders_open ON exec.orders (account) WHERE status IN ('signed', 'posted', 'live');

-- A live fill is one OrderFilled event of our order; the event's key makes re-reading it harmless.
ALTER TABLE exec.fills
    ADD COLUMN block_number bigint,
    ADD COLUMN log_index    integer;
CREATE UNIQUE INDEX fills_event ON exec.fills (block_number, log_index) WHERE block_number IS NOT NULL;

-- The executor follows its own orders' fills by hash (equality only, hence a hash index: see
-- order_filled_token in V2). Building it on a full V1 history takes a while, once.
CREATE INDEX order_filled_order_hash ON chain.order_filled USING hash (order_hash);

INSERT INTO strategy.parameters (name, value, description) VALUES
    ('live_settle_seconds', 120,
     'Live orders: how long after the CLOB took an order the executor waits for its fills to reach chain.order_filled before settling it on the fills seen (the rest of its reserve goes back to cash; a later fill is still booked).'),
    ('live_repost_seconds', 20,
     'Live orders: a stored order that was never posted (the executor stopped between storing and posting) is posted at restart only if it was signed this recently; older ones are marked not_sent.')
ON CONFLICT (name) DO NOTHING;

-- A live entry is decided ('placed') before the CLOB answers; when the CLOB refuses the order
-- the same decision becomes 'rejected', its detail the CLOB's reason.
ALTER TABLE exec.decisions DROP CONSTRAINT decisions_outcome_check;
ALTER TABLE exec.decisions ADD CONSTRAINT decisions_outcome_check
    CHECK (outcome IN ('placed', 'skipped', 'rejected'));
