//! Hand-built rows for the signal and executor tests: tokens, score snapshots and fills go into
//! the tables as the indexer and the scorer write them.

#![allow(dead_code)]

use tokio_postgres::Client;

pub const EXCHANGE_V2: &str = "\\xe111180000d2663c0091e4f400237545b87b996b";
pub const CTF: &str = "\\x4d97dcd97ec945f40cf65f87097ace5ea0476045";
/// Market 1: tokens 1001 (outcome 0) and 1002 (outcome 1).
pub const MARKET1: &str = "\\x00000000000000000000000000000000000000000000000000000000000000c1";
/// Market 2: tokens 2001 and 2002.
pub const MARKET2: &str = "\\x00000000000000000000000000000000000000000000000000000000000000c2";

/// Wallet number `n` as bytea text: 0x00…00nn.
pub fn w(n: u32) -> String {
    format!("\\x{n:040x}")
}

/// Wallet number `n` as analysts see it.
pub fn hex(n: u32) -> String {
    format!("0x{n:040x}")
}

/// Partitions and two binary markets.
pub async fn markets(c: &Client) {
    c.batch_execute(&format!(
        "SELECT chain.ensure_partitions(0, 10000);
         INSERT INTO market.tokens (token_id, condition_id, outcome_index, neg_risk, collateral, source, block_number, log_index)
         VALUES (1001, '{MARKET1}', 0, false, '\\x00', 'condition_preparation', 1, 0),
                (1002, '{MARKET1}', 1, false, '\\x00', 'condition_preparation', 1, 0),
                (2001, '{MARKET2}', 0, false, '\\x00', 'condition_preparation', 1, 1),
                (2002, '{MARKET2}', 1, false, '\\x00', 'condition_preparation', 1, 1);"
    ))
    .await
    .unwrap();
}

/// A wallet's row in a snapshot.
#[derive(Clone, Copy)]
pub struct Scored {
    pub wallet: u32,
    pub score: f64,
    pub market_maker: bool,
    pub wash: bool,
}

pub fn scored(wallet: u32, score: f64) -> Scored {
    Scored {
        wallet,
        score,
        market_maker: false,
        wash: false,
    }
}

/// A score snapshot as of `age_secs` seconds ago, with these wallets; returns its id.
pub async fn snapshot(c: &Client, age_secs: f64, rows: &[Scored]) -> i64 {
    let id: i64 = c
        .query_one(
            "INSERT INTO flow.score_snapshots (as_of_block, as_of_time, reason)
             VALUES (1, now() - make_interval(secs => $1), 'manual') RETURNING snapshot_id",
            &[&age_secs],
        )
        .await
        .unwrap()
        .get(0);
    for r in rows {
        c.execute(
            &format!(
                "INSERT INTO flow.wallet_scores (snapshot_id, wallet, score, resolved_positions, win_component,
                     profit_factor_component, consistency_component, confidence_component, early_entry_component,
                     win_rate, markets_traded, is_market_maker, is_wash_trader)
                 VALUES ($1, '{}', $2::float8::numeric, 40, 0.7, 0.6, 0.55, 0.89, 0.5, 0.7, 12, $3, $4)",
                w(r.wallet)
            ),
            &[&id, &r.score, &r.market_maker, &r.wash],
        )
        .await
        .unwrap();
    }
    id
}

/// One fill.
#[derive(Clone, Copy)]
pub struct Fill {
    pub block: i64,
    pub log: i32,
    pub wallet: u32,
    /// 0 BUY, 1 SELL.
    pub side: i16,
    pub token: i64,
    pub shares: f64,
    pub price: f64,
    /// true: the wallet's order took liquidity (taker = the exchange).
    pub taker: bool,
    /// Seconds before now() of its block_time; None: no block time.
    pub age_secs: Option<f64>,
    /// The order's own hash (default 0x02); the executor finds its live fills by it.
    pub order_hash: Option<[u8; 32]>,
    /// The maker as an address, instead of wallet number `wallet`.
    pub maker: Option<[u8; 20]>,
    /// Fee in USDC.
    pub fee: f64,
}

/// A fresh taker fill.
pub fn fill(
    block: i64,
    log: i32,
    wallet: u32,
    side: i16,
    token: i64,
    shares: f64,
    price: f64,
) -> Fill {
    Fill {
        block,
        log,
        wallet,
        side,
        token,
        shares,
        price,
        taker: true,
        age_secs: Some(1.0),
        order_hash: None,
        maker: None,
        fee: 0.0,
    }
}

fn bytea(bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("\\x{hex}")
}

/// Inserts fills in one statement (one trigger firing), as a batch of the indexer does.
pub async fn insert(c: &Client, fills: &[Fill]) {
    let values: Vec<String> = fills
        .iter()
        .map(|f| {
            let shares = (f.shares * 1e6).round() as i64;
            let usdc = (f.shares * f.price * 1e6).round() as i64;
            let (maker_amount, taker_amount) = if f.side == 0 { (usdc, shares) } else { (shares, usdc) };
            let taker = if f.taker {
                EXCHANGE_V2.to_owned()
            } else {
                w(999)
            };
            let time = match f.age_secs {
                Some(a) => format!("now() - make_interval(secs => {a})"),
                None => "NULL".to_owned(),
            };
            let order_hash = f.order_hash.map_or("\\x02".to_owned(), |h| bytea(&h));
            let maker = f.maker.map_or_else(|| w(f.wallet), |m| bytea(&m));
            let fee = (f.fee * 1e6).round() as i64;
            format!(
                "({}, {}, '\\x{:064x}', {time}, '{EXCHANGE_V2}', 2, '{order_hash}', '{maker}', '{taker}', {}, {}, {maker_amount}, {taker_amount}, {fee})",
                f.block,
                f.log,
                f.block * 1000 + i64::from(f.log),
                f.side,
                f.token
            )
        })
        .collect();
    c.batch_execute(&format!(
        "INSERT INTO chain.order_filled (block_number, log_index, tx_hash, block_time, contract, version, order_hash,
                                         maker, taker, side, token_id, maker_amount, taker_amount, fee)
         VALUES {}",
        values.join(", ")
    ))
    .await
    .unwrap();
}

/// Resolves a market with these payout numerators, e.g. "{1,0}".
pub async fn resolve(c: &Client, block: i64, condition: &str, numerators: &str) {
    c.execute(
        &format!(
            "INSERT INTO chain.condition_resolution (block_number, log_index, tx_hash, contract, condition_id, oracle,
                                                     question_id, outcome_slot_count, payout_numerators)
             VALUES ($1, 0, '\\x01', '{CTF}', '{condition}', '\\x00', '\\x00', 2, '{numerators}')"
        ),
        &[&block],
    )
    .await
    .unwrap();
}

/// Sets a strategy parameter.
pub async fn set_param(c: &Client, name: &str, value: f64) {
    let n = c
        .execute(
            "UPDATE strategy.parameters SET value = $2::float8::numeric WHERE name = $1",
            &[&name, &value],
        )
        .await
        .unwrap();
    assert_eq!(n, 1, "no parameter {name}");
}

/// The signals as (action, wallet number, token, panic sellers) in id order.
pub async fn signals(c: &Client) -> Vec<(String, String, String, Option<i32>)> {
    c.query(
        "SELECT action, wallet_address, token_id::text, panic_sellers FROM signals ORDER BY signal_id",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
    .collect()
}

pub fn sig(
    action: &str,
    wallet: u32,
    token: i64,
    sellers: Option<i32>,
) -> (String, String, String, Option<i32>) {
    (action.to_owned(), hex(wallet), token.to_string(), sellers)
}

/// A hand-made signal on `token` at `block`, its fill `age` seconds old.
pub async fn signal(c: &Client, block: i64, token: i64, confidence: f64, age: f64) -> i64 {
    c.query_one(
        "INSERT INTO strategy.signals (created_at, action, wallet, token_id, side, trigger_side, trigger_role, price,
                                       size, confidence, score, snapshot_id, reason, block_number, log_index,
                                       block_time, tx_hash)
         VALUES (now(), 'FOLLOW', '\\x01', $1::bigint::numeric, 0, 0, 'taker', 0.5, 10, $2::float8::numeric, 8, 1,
                 'test', $3, (SELECT count(*) FROM strategy.signals)::integer, now() - make_interval(secs => $4), '\\x01')
         RETURNING signal_id",
        &[&token, &confidence, &block, &age],
    )
    .await
    .unwrap()
    .get(0)
}
