//! The executor against a real Postgres: every risk limit, exact paper fills, two executors
//! racing on one account, and a signal traded end to end through resolution.

mod common;
#[path = "trading/mod.rs"]
mod trading;

use std::time::Duration;

use common::{strings, TestDb};
use orderflow::exec::{self, risk::SkipReason, Config, Decided, Engine, Mode, PaperBroker};
use rust_decimal::Decimal;
use tokio_postgres::Client;
use trading::*;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

/// A fresh database with markets, an unscored price-maker wallet, exact paper prices (no
/// slippage, no fee) and a 10 000 USDC paper account.
async fn setup() -> (TestDb, Client, Engine<PaperBroker>) {
    let db = TestDb::new().await;
    let mut c = db.client().await;
    markets(&c).await;
    // Tokens 3001..3040 without a known market, for many independent positions.
    c.batch_execute(
        "INSERT INTO market.tokens (token_id, condition_id, outcome_index, neg_risk, collateral, source, block_number, log_index)
         SELECT 3000 + i, decode(lpad(to_hex(3000 + i), 64, '0'), 'hex'), 0, false, '\\x00', 'condition_preparation', 1, 2
         FROM generate_series(1, 40) i",
    )
    .await
    .unwrap();
    set_param(&c, "paper_slippage", 0.0).await;
    set_param(&c, "taker_fee_rate", 0.0).await;
    let engine = Engine::new("paper", PaperBroker);
    engine.open_account(&mut c, "paper").await.unwrap();
    (db, c, engine)
}

/// A trade of `token` at `price` in `block` by a wallet nobody scores (it makes no signal).
async fn trade(c: &Client, block: i64, token: i64, price: f64) {
    insert(c, &[fill(block, token as i32, 900, 0, token, 10.0, price)]).await;
}

/// Decides one signal and expects it placed.
async fn place(e: &Engine<PaperBroker>, c: &mut Client) -> i64 {
    match e.decide_next(c).await.unwrap() {
        Some(Decided::Placed { position_id, .. }) => position_id,
        other => panic!("expected a placed entry, got {other:?}"),
    }
}

async fn skip_reason(e: &Engine<PaperBroker>, c: &mut Client) -> SkipReason {
    match e.decide_next(c).await.unwrap() {
        Some(Decided::Skipped { reason, .. }) => reason,
        other => panic!("expected a skip, got {other:?}"),
    }
}

async fn cash(c: &Client) -> Decimal {
    c.query_one(
        "SELECT cash FROM exec.accounts WHERE account = 'paper'",
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

/// (outcome, reason, kelly, fraction, stake, shares, fee) of the last decision on `signal`.
async fn decision(
    c: &Client,
    signal: i64,
) -> (
    String,
    String,
    Option<Decimal>,
    Option<Decimal>,
    Option<Decimal>,
    Option<Decimal>,
) {
    let r = c
        .query_one(
            "SELECT outcome, reason, kelly, fraction, stake, shares FROM executor_decisions
             WHERE signal_id = $1 ORDER BY decision_id DESC LIMIT 1",
            &[&signal],
        )
        .await
        .unwrap();
    (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5))
}

#[tokio::test]
async fn an_entry_is_sized_by_quarter_kelly_and_recorded_everywhere() {
    let (_db, mut c, e) = setup().await;
    trade(&c, 100, 1001, 0.5).await;
    let s = signal(&c, 100, 1001, 0.6, 2.0).await;
    let pos = place(&e, &mut c).await;
    // p 0.6 at 0.5: f* 0.2, x 0.25 = 0.05 of 10 000 = 500 USDC = 1000 shares.
    assert_eq!(
        decision(&c, s).await,
        (
            "placed".into(),
            "sized".into(),
            Some(d("0.2")),
            Some(d("0.05")),
            Some(d("500")),
            Some(d("1000"))
        )
    );
    assert_eq!(cash(&c).await, d("9500"));
    let p = c
        .query_one(
            "SELECT status, shares, cost, avg_price, mark, market_id, first_signal_id FROM paper_positions WHERE position_id = $1",
            &[&pos],
        )
        .await
        .unwrap();
    assert_eq!(p.get::<_, String>(0), "open");
    assert_eq!(
        (
            p.get::<_, Decimal>(1),
            p.get::<_, Decimal>(2),
            p.get::<_, Decimal>(3)
        ),
        (d("1000"), d("500"), d("0.5"))
    );
    assert_eq!(p.get::<_, Decimal>(4), d("0.5"));
    assert_eq!(p.get::<_, String>(5), format!("0x{}", &MARKET1[2..]));
    assert_eq!(p.get::<_, i64>(6), s);
    let o = c
        .query_one(
            "SELECT o.broker, o.side, o.shares, o.limit_price, o.status, f.shares, f.price, f.fee, f.usdc
             FROM exec.orders o JOIN exec.fills f USING (order_id) WHERE o.signal_id = $1",
            &[&s],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            o.get::<_, String>(0),
            o.get::<_, i16>(1),
            o.get::<_, String>(4)
        ),
        ("paper".into(), 0, "filled".into())
    );
    assert_eq!(
        (
            o.get::<_, Decimal>(5),
            o.get::<_, Decimal>(6),
            o.get::<_, Decimal>(7),
            o.get::<_, Decimal>(8)
        ),
        (d("1000"), d("0.5"), d("0"), d("-500"))
    );
    let status: String = c
        .query_one("SELECT status FROM signals WHERE signal_id = $1", &[&s])
        .await
        .unwrap()
        .get(0);
    assert_eq!(status, "taken");
    // Nothing left to decide.
    assert_eq!(e.decide_next(&mut c).await.unwrap(), None);
}

#[tokio::test]
async fn paper_fills_pay_slippage_and_the_v2_taker_fee() {
    let (_db, mut c, e) = setup().await;
    set_param(&c, "taker_fee_rate", 0.25).await;
    set_param(&c, "taker_fee_exponent", 2.0).await;
    trade(&c, 100, 1001, 0.5).await;
    let s = signal(&c, 100, 1001, 0.6, 2.0).await;
    place(&e, &mut c).await;
    // Fee per share at 0.5: 0.25 x 0.25^2 = 0.015625; q = 0.515625; 844.57 shares cost
    // 422.285 + fee 13.196406.
    let (outcome, reason, _, _, stake, shares) = decision(&c, s).await;
    assert_eq!((outcome.as_str(), reason.as_str()), ("placed", "sized"));
    assert_eq!((stake, shares), (Some(d("435.481406")), Some(d("844.57"))));
    assert_eq!(cash(&c).await, d("9564.518594"));
    // With 1% slippage the next buy pays 0.505 a share.
    set_param(&c, "paper_slippage", 0.01).await;
    set_param(&c, "taker_fee_rate", 0.0).await;
    trade(&c, 101, 2001, 0.5).await;
    let s = signal(&c, 101, 2001, 0.6, 2.0).await;
    place(&e, &mut c).await;
    let price: Decimal = c
        .query_one(
            "SELECT price FROM executor_decisions WHERE signal_id = $1",
            &[&s],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(price, d("0.505"));
}

#[tokio::test]
async fn the_per_signal_cap_holds_at_20_percent() {
    let (_db, mut c, e) = setup().await;
    trade(&c, 100, 1001, 0.1).await;
    let s = signal(&c, 100, 1001, 0.95, 2.0).await;
    place(&e, &mut c).await;
    // Quarter Kelly would be 0.25 x 0.9444 = 0.236; the cap takes 0.20 = 2000 USDC.
    let (_, reason, _, fraction, stake, shares) = decision(&c, s).await;
    assert_eq!(reason, "capped_position");
    assert_eq!(
        (fraction, stake, shares),
        (Some(d("0.2")), Some(d("2000")), Some(d("20000")))
    );
}

#[tokio::test]
async fn at_most_five_open_positions_but_a_held_token_can_grow() {
    let (_db, mut c, e) = setup().await;
    for i in 1..=6 {
        trade(&c, 100, 3000 + i, 0.5).await;
    }
    // p 0.55 at 0.5: 250 USDC each.
    for i in 1..=6 {
        signal(&c, 100, 3000 + i, 0.55, 2.0).await;
    }
    for _ in 0..5 {
        place(&e, &mut c).await;
    }
    assert_eq!(skip_reason(&e, &mut c).await, SkipReason::MaxOpenPositions);
    // A signal on a token already held adds to its position.
    signal(&c, 100, 3001, 0.55, 2.0).await;
    place(&e, &mut c).await;
    let r = c
        .query_one(
            "SELECT count(*), sum(shares) FILTER (WHERE token_id = 3001) FROM exec.positions WHERE status = 'open'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(r.get::<_, i64>(0), 5);
    // 500 shares, then 500 more (equity is still 10 000: every position is marked at its cost).
    assert_eq!(r.get::<_, Decimal>(1), d("1000"));
}

#[tokio::test]
async fn one_batch_places_entries_as_one_by_one_decisions_would() {
    // The same signals as above, decided in one transaction: the entries are written together
    // with the batch's record, and the book the later decisions see counts the earlier ones.
    let (_db, mut c, e) = setup().await;
    for i in 1..=6 {
        trade(&c, 100, 3000 + i, 0.5).await;
    }
    let mut signals = Vec::new();
    for i in 1..=6 {
        signals.push(signal(&c, 100, 3000 + i, 0.55, 2.0).await);
    }
    signals.push(signal(&c, 100, 3001, 0.55, 2.0).await);
    let batch = e.decide_batch(&mut c, 100).await.unwrap();
    assert_eq!(batch.len(), 7);
    let placed: Vec<(i64, i64)> = batch
        .iter()
        .filter_map(|d| match d {
            Decided::Placed {
                signal_id,
                position_id,
            } => Some((*signal_id, *position_id)),
            _ => None,
        })
        .collect();
    assert_eq!(placed.len(), 6, "{batch:?}");
    assert_eq!(
        batch[5],
        Decided::Skipped {
            signal_id: signals[5],
            reason: SkipReason::MaxOpenPositions
        }
    );
    // The seventh signal added to the first position.
    assert_eq!(placed[0].1, placed[5].1);
    for (signal_id, position_id) in &placed {
        let r = c
            .query_one(
                "SELECT d.position_id, o.position_id, f.shares, f.usdc, o.status
                 FROM exec.decisions d JOIN exec.orders o ON o.order_id = d.order_id
                 JOIN exec.fills f ON f.order_id = o.order_id
                 WHERE d.signal_id = $1",
                &[signal_id],
            )
            .await
            .unwrap();
        assert_eq!(r.get::<_, Option<i64>>(0), Some(*position_id));
        assert_eq!(r.get::<_, Option<i64>>(1), Some(*position_id));
        assert_eq!(r.get::<_, Decimal>(2), d("500"));
        assert_eq!(r.get::<_, Decimal>(3), d("-250"));
        assert_eq!(r.get::<_, String>(4), "filled");
    }
    let r = c
        .query_one(
            "SELECT count(*), sum(shares) FILTER (WHERE token_id = 3001), sum(cost) FILTER (WHERE token_id = 3001),
                    min(first_signal_id) FILTER (WHERE token_id = 3001), count(*) FILTER (WHERE last_price = 0.5)
             FROM exec.positions WHERE status = 'open'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(r.get::<_, i64>(0), 5);
    assert_eq!(r.get::<_, Decimal>(1), d("1000"));
    assert_eq!(r.get::<_, Decimal>(2), d("500"));
    assert_eq!(r.get::<_, Option<i64>>(3), Some(signals[0]));
    assert_eq!(r.get::<_, i64>(4), 5);
    assert_eq!(cash(&c).await, d("8500"));
    let statuses: Vec<String> =
        strings(&c, "SELECT status FROM strategy.signals ORDER BY signal_id").await;
    assert_eq!(
        statuses,
        ["taken", "taken", "taken", "taken", "taken", "skipped", "taken"]
    );
}

#[tokio::test]
async fn at_most_half_the_capital_is_deployed() {
    let (_db, mut c, e) = setup().await;
    let mut signals = Vec::new();
    for i in 1..=4 {
        trade(&c, 100, 3000 + i, 0.1).await;
        signals.push(signal(&c, 100, 3000 + i, 0.95, 2.0).await);
    }
    for _ in 0..3 {
        place(&e, &mut c).await;
    }
    assert_eq!(skip_reason(&e, &mut c).await, SkipReason::DeployedCap);
    let got: Vec<(String, Option<Decimal>)> = {
        let mut v = Vec::new();
        for s in &signals {
            let (_, reason, _, _, stake, _) = decision(&c, *s).await;
            v.push((reason, stake));
        }
        v
    };
    assert_eq!(
        got,
        vec![
            ("capped_position".into(), Some(d("2000"))),
            ("capped_position".into(), Some(d("2000"))),
            ("capped_deployed".into(), Some(d("1000"))),
            ("deployed_cap".into(), None),
        ]
    );
    assert_eq!(cash(&c).await, d("5000"));
}

#[tokio::test]
async fn a_ten_percent_daily_loss_halts_entries_for_the_day() {
    let (_db, mut c, e) = setup().await;
    trade(&c, 100, 3001, 0.1).await;
    signal(&c, 100, 3001, 0.95, 2.0).await;
    place(&e, &mut c).await; // 20 000 shares for 2000
                             // The token halves: the position is worth 1000, equity 9000 = -10% on the day.
    trade(&c, 101, 3001, 0.05).await;
    trade(&c, 101, 3002, 0.5).await;
    let s = signal(&c, 101, 3002, 0.6, 2.0).await;
    assert_eq!(skip_reason(&e, &mut c).await, SkipReason::DailyLossHalt);
    let r = c
        .query_one(
            "SELECT equity, day_start_equity FROM executor_decisions WHERE signal_id = $1",
            &[&s],
        )
        .await
        .unwrap();
    assert_eq!(
        (r.get::<_, Decimal>(0), r.get::<_, Decimal>(1)),
        (d("9000"), d("10000"))
    );
    let halted: Option<Decimal> = c
        .query_one(
            "SELECT halt_equity FROM exec.account_days WHERE account = 'paper'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(halted, Some(d("9000")));
    // The price recovers; the day stays halted.
    trade(&c, 102, 3001, 0.1).await;
    signal(&c, 102, 3002, 0.6, 2.0).await;
    assert_eq!(skip_reason(&e, &mut c).await, SkipReason::DailyLossHalt);
}

#[tokio::test]
async fn a_loss_just_short_of_ten_percent_keeps_trading() {
    let (_db, mut c, e) = setup().await;
    trade(&c, 100, 3001, 0.1).await;
    signal(&c, 100, 3001, 0.95, 2.0).await;
    place(&e, &mut c).await;
    // 20 000 shares at 0.050001: worth 1000.02, equity 9000.02.
    trade(&c, 101, 3001, 0.050001).await;
    trade(&c, 101, 3002, 0.5).await;
    signal(&c, 101, 3002, 0.6, 2.0).await;
    place(&e, &mut c).await;
}

#[tokio::test]
async fn the_kill_switch_skips_entries_and_stale_signals_are_dropped() {
    let (_db, mut c, e) = setup().await;
    trade(&c, 100, 1001, 0.5).await;
    set_param(&c, "trading_enabled", 0.0).await;
    let s = signal(&c, 100, 1001, 0.6, 2.0).await;
    assert_eq!(skip_reason(&e, &mut c).await, SkipReason::KillSwitch);
    assert_eq!(decision(&c, s).await.1, "kill_switch");
    let status: String = c
        .query_one("SELECT status FROM signals WHERE signal_id = $1", &[&s])
        .await
        .unwrap()
        .get(0);
    assert_eq!(status, "skipped");
    set_param(&c, "trading_enabled", 1.0).await;
    // signal_ttl_seconds is 180.
    let s = signal(&c, 100, 1001, 0.6, 181.0).await;
    assert_eq!(skip_reason(&e, &mut c).await, SkipReason::Stale);
    let age: Decimal = c
        .query_one(
            "SELECT signal_age_secs FROM executor_decisions WHERE signal_id = $1",
            &[&s],
        )
        .await
        .unwrap()
        .get(0);
    assert!(age >= d("181") && age < d("190"), "{age}");
    assert_eq!(cash(&c).await, d("10000"));
    // No trade of 1002 at all: no price. At 0.6 a confidence of 0.5 has no edge.
    signal(&c, 100, 1002, 0.6, 2.0).await;
    assert_eq!(skip_reason(&e, &mut c).await, SkipReason::NoPrice);
    trade(&c, 101, 2001, 0.6).await;
    signal(&c, 101, 2001, 0.5, 2.0).await;
    assert_eq!(skip_reason(&e, &mut c).await, SkipReason::NoEdge);
}

#[tokio::test]
async fn a_position_fifteen_percent_down_is_sold() {
    let (_db, mut c, e) = setup().await;
    trade(&c, 100, 1001, 0.5).await;
    signal(&c, 100, 1001, 0.6, 2.0).await;
    let pos = place(&e, &mut c).await; // 1000 shares for 500
                                       // -14%: held. The kill switch does not stop exits.
    set_param(&c, "trading_enabled", 0.0).await;
    trade(&c, 101, 1001, 0.43).await;
    assert_eq!(e.manage_positions(&mut c).await.unwrap(), vec![]);
    // Exactly -15%: sold at the trade price (no slippage, no fee here).
    trade(&c, 102, 1001, 0.425).await;
    assert_eq!(
        e.manage_positions(&mut c).await.unwrap(),
        vec![Decided::Closed {
            position_id: pos,
            reason: "stop_loss"
        }]
    );
    let r = c
        .query_one(
            "SELECT status, close_reason, exit_price, proceeds, realized_pnl FROM paper_positions WHERE position_id = $1",
            &[&pos],
        )
        .await
        .unwrap();
    assert_eq!(
        (r.get::<_, String>(0), r.get::<_, String>(1)),
        ("closed".into(), "stop_loss".into())
    );
    assert_eq!(
        (
            r.get::<_, Decimal>(2),
            r.get::<_, Decimal>(3),
            r.get::<_, Decimal>(4)
        ),
        (d("0.425"), d("425"), d("-75"))
    );
    assert_eq!(cash(&c).await, d("9925"));
    let exit: (String, String, i16) = c
        .query_one(
            "SELECT d.kind, d.reason, o.side FROM executor_decisions d JOIN exec.orders o USING (order_id)
             WHERE d.position_id = $1 AND d.kind = 'exit'",
            &[&pos],
        )
        .await
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .unwrap();
    assert_eq!(exit, ("exit".into(), "stop_loss".into(), 1));
}

/// An engine keeps its statements per connection, and sends an entry's writes together. A
/// fresh engine whose first work is a stop-loss (which prepares only some of the entry's
/// statements) must still record its next entry's order with the position it opened.
#[tokio::test]
async fn an_entry_after_a_stop_loss_on_a_fresh_connection_keeps_its_order_and_position_together() {
    let (db, mut c, e) = setup().await;
    trade(&c, 100, 1001, 0.5).await;
    signal(&c, 100, 1001, 0.6, 2.0).await;
    let first = place(&e, &mut c).await;
    trade(&c, 101, 1001, 0.4).await;
    let mut c2 = db.client().await;
    let fresh = Engine::new("paper", PaperBroker);
    assert_eq!(
        fresh.manage_positions(&mut c2).await.unwrap(),
        vec![Decided::Closed {
            position_id: first,
            reason: "stop_loss"
        }]
    );
    trade(&c, 102, 1002, 0.5).await;
    signal(&c, 102, 1002, 0.6, 2.0).await;
    let second = place(&fresh, &mut c2).await;
    let orders: Vec<(Option<i64>, i16)> = c
        .query(
            "SELECT position_id, side FROM exec.orders ORDER BY order_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        orders,
        vec![(Some(first), 0), (Some(first), 1), (Some(second), 0)]
    );
}

/// Two executors on one account, each its own service loop and connection, racing on many
/// signals; returns when every signal is decided.
async fn race(db: &TestDb, c: &Client, signals: usize) {
    let mut stops = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        stops.push(stop);
        let config = Config {
            database_url: db.url.clone(),
            mode: Mode::Paper,
            account: "paper".into(),
            poll_interval: Duration::from_millis(20),
            live: None,
        };
        tasks.push(tokio::spawn(exec::run(config, async {
            let _ = stopped.await;
        })));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let decided = scalar(
            c,
            "SELECT count(*) FROM exec.decisions WHERE kind = 'entry'",
        )
        .await;
        if decided as usize >= signals {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {decided} of {signals} decided"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for s in stops {
        let _ = s.send(());
    }
    let mut placed = 0;
    for t in tasks {
        let summary = t.await.unwrap().unwrap();
        eprintln!("executor: {summary}");
        placed += summary.placed + summary.skipped;
    }
    assert_eq!(
        placed as usize, signals,
        "each signal decided by exactly one executor"
    );
}

async fn scalar(c: &Client, sql: &str) -> i64 {
    c.query_one(sql, &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn two_executors_racing_never_pass_the_deployed_cap_together() {
    let (db, c, _) = setup().await;
    for i in 1..=40 {
        trade(&c, 100, 3000 + i, 0.1).await;
    }
    // 40 signals that each want 20% of capital.
    c.batch_execute(
        "INSERT INTO strategy.signals (created_at, action, wallet, token_id, side, trigger_side, trigger_role, price, size,
                                       confidence, score, snapshot_id, reason, block_number, log_index, block_time, tx_hash)
         SELECT now(), 'FOLLOW', '\\x01', 3000 + i, 0, 0, 'taker', 0.1, 10, 0.95, 8, 1, 'race', 100, i, now(), '\\x01'
         FROM generate_series(1, 40) i",
    )
    .await
    .unwrap();
    race(&db, &c, 40).await;
    let r = c
        .query_one(
            "SELECT count(*), sum(cost), max(cost) FROM exec.positions WHERE status = 'open'",
            &[],
        )
        .await
        .unwrap();
    // 2000 + 2000 + 1000: exactly half of 10 000, never more.
    assert_eq!(
        (
            r.get::<_, i64>(0),
            r.get::<_, Decimal>(1),
            r.get::<_, Decimal>(2)
        ),
        (3, d("5000"), d("2000"))
    );
    assert_eq!(cash(&c).await, d("5000"));
    assert_eq!(
        scalar(&c, "SELECT count(DISTINCT signal_id) FROM exec.decisions").await,
        40
    );
    assert_eq!(
        scalar(
            &c,
            "SELECT count(*) FROM strategy.signals WHERE status = 'new'"
        )
        .await,
        0
    );
    assert_eq!(
        scalar(
            &c,
            "SELECT count(*) FROM exec.decisions WHERE reason = 'deployed_cap'"
        )
        .await,
        37
    );
}

#[tokio::test]
async fn two_executors_racing_never_open_a_sixth_position() {
    let (db, c, _) = setup().await;
    for i in 1..=40 {
        trade(&c, 100, 3000 + i, 0.5).await;
    }
    // 40 small signals (250 USDC each): only the position count can stop them.
    c.batch_execute(
        "INSERT INTO strategy.signals (created_at, action, wallet, token_id, side, trigger_side, trigger_role, price, size,
                                       confidence, score, snapshot_id, reason, block_number, log_index, block_time, tx_hash)
         SELECT now(), 'FOLLOW', '\\x01', 3000 + i, 0, 0, 'taker', 0.5, 10, 0.55, 8, 1, 'race', 100, i, now(), '\\x01'
         FROM generate_series(1, 40) i",
    )
    .await
    .unwrap();
    race(&db, &c, 40).await;
    assert_eq!(
        scalar(
            &c,
            "SELECT count(*) FROM exec.positions WHERE status = 'open'"
        )
        .await,
        5
    );
    assert_eq!(
        scalar(
            &c,
            "SELECT count(*) FROM exec.decisions WHERE reason = 'max_open_positions'"
        )
        .await,
        35
    );
    assert_eq!(cash(&c).await, d("8750"));
}

#[tokio::test]
async fn a_followed_buy_is_paper_traded_and_settled_at_resolution() {
    let db = TestDb::new().await;
    let c = db.client().await;
    markets(&c).await;
    // Default parameters: 1% slippage, V2 fee r = 0.25, e = 2, quarter Kelly.
    snapshot(&c, 3600.0, &[scored(1, 8.5)]).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = Config {
        database_url: db.url.clone(),
        mode: Mode::Paper,
        account: "paper".into(),
        // Long: the signal must arrive by NOTIFY, not by polling.
        poll_interval: Duration::from_secs(3600),
        live: None,
    };
    let service = tokio::spawn(exec::run(config, async {
        let _ = stopped.await;
    }));
    // Wait for the account: the executor is up and listening.
    wait_for(&c, "SELECT count(*) FROM exec.accounts").await;
    // The skilled wallet (8.5: confidence 0.725) buys outcome 0 of market 1 at 0.40.
    insert(&c, &[fill(100, 0, 1, 0, 1001, 200.0, 0.40)]).await;
    wait_for(&c, "SELECT count(*) FROM exec.decisions").await;
    // Buy at 0.40 x 1.01 = 0.404; fee per share 0.25 x (0.404 x 0.596)^2 = 0.014494233664;
    // q = 0.418494233664; f* = (0.725 - q) / (1 - q) = 0.52709; x 0.25 = 0.131772 of 10 000;
    // 3148.72 shares for 1272.08288 + fee 45.638283.
    let r = c
        .query_one(
            "SELECT d.outcome, d.reason, d.price, d.fee_per_share, round(d.kelly, 6), round(d.fraction, 6), d.stake,
                    d.shares, d.fee, s.action, s.status
             FROM executor_decisions d JOIN signals s USING (signal_id)",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (r.get::<_, String>(0), r.get::<_, String>(1)),
        ("placed".into(), "sized".into())
    );
    assert_eq!(r.get::<_, Decimal>(2), d("0.404"));
    assert_eq!(r.get::<_, Decimal>(3), d("0.014494233664"));
    assert_eq!(
        (r.get::<_, Decimal>(4), r.get::<_, Decimal>(5)),
        (d("0.52709"), d("0.131772"))
    );
    assert_eq!(
        (
            r.get::<_, Decimal>(6),
            r.get::<_, Decimal>(7),
            r.get::<_, Decimal>(8)
        ),
        (d("1317.721163"), d("3148.72"), d("45.638283"))
    );
    assert_eq!(
        (r.get::<_, String>(9), r.get::<_, String>(10)),
        ("FOLLOW".into(), "taken".into())
    );
    let p = c
        .query_one(
            "SELECT status, shares, cost, fees FROM paper_positions",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(p.get::<_, String>(0), "open");
    assert_eq!(
        (
            p.get::<_, Decimal>(1),
            p.get::<_, Decimal>(2),
            p.get::<_, Decimal>(3)
        ),
        (d("3148.72"), d("1317.721163"), d("45.638283"))
    );
    // The market resolves YES for outcome 0: the position closes at 1 a share.
    resolve(&c, 200, MARKET1, "{1,0}").await;
    c.batch_execute("NOTIFY signals").await.unwrap(); // wake it now rather than at the next poll
    wait_for(
        &c,
        "SELECT count(*) FROM exec.positions WHERE status = 'closed'",
    )
    .await;
    let p = c
        .query_one(
            "SELECT close_reason, exit_price, proceeds, realized_pnl FROM paper_positions",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(p.get::<_, String>(0), "resolved");
    assert_eq!(
        (
            p.get::<_, Decimal>(1),
            p.get::<_, Decimal>(2),
            p.get::<_, Decimal>(3)
        ),
        (d("1"), d("3148.72"), d("1830.998837"))
    );
    assert_eq!(cash(&c).await, d("11830.998837"));
    let a = c
        .query_one(
            "SELECT equity, deployed, open_positions, total_pnl, daily_pnl FROM paper_account",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            a.get::<_, Decimal>(0),
            a.get::<_, Decimal>(1),
            a.get::<_, i64>(2)
        ),
        (d("11830.998837"), d("0"), 0)
    );
    assert_eq!(
        (a.get::<_, Decimal>(3), a.get::<_, Decimal>(4)),
        (d("1830.998837"), d("1830.998837"))
    );
    stop.send(()).unwrap();
    let summary = service.await.unwrap().unwrap();
    assert_eq!((summary.placed, summary.skipped, summary.closed), (1, 0, 1));
}

/// Waits (up to 30 s) until `sql` counts at least one row.
async fn wait_for(c: &Client, sql: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while scalar(c, sql).await == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {sql}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn live_mode_fails_at_start_up_with_one_clear_line() {
    let err = exec::run(
        Config {
            database_url: "postgres://nobody@127.0.0.1:1/none".into(),
            mode: Mode::Live,
            account: "live".into(),
            poll_interval: Duration::from_secs(1),
            live: None,
        },
        std::future::pending(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, exec::ExecError::LiveConfig(_)), "{err}");
    assert!(!err.is_retryable());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_executor"))
        .args(["--mode", "live"])
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .env_remove("POLY_PRIVATE_KEY")
        .env_remove("ORDERFLOW_KEY_FILE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert_eq!(
        stderr.trim(),
        "error: live mode: missing private key: set POLY_PRIVATE_KEY or pass --key-file"
    );
    // The env twin works the same.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_executor"))
        .env("ORDERFLOW_EXECUTOR_MODE", "live")
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .env_remove("POLY_PRIVATE_KEY")
        .env_remove("ORDERFLOW_KEY_FILE")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing private key"));
}

#[tokio::test]
async fn the_analyst_reads_signals_and_decisions_but_not_exec() {
    let (_db, mut c, e) = setup().await;
    trade(&c, 100, 1001, 0.5).await;
    signal(&c, 100, 1001, 0.6, 2.0).await;
    place(&e, &mut c).await;
    c.batch_execute("SET ROLE orderflow_analyst").await.unwrap();
    for read in [
        "SELECT count(*) FROM signals",
        "SELECT count(*) FROM executor_decisions",
        "SELECT count(*) FROM paper_positions",
        "SELECT count(*) FROM paper_account",
    ] {
        assert_eq!(scalar(&c, read).await, 1, "{read}");
    }
    for forbidden in [
        "SELECT * FROM exec.accounts",
        "SELECT * FROM exec.decisions",
    ] {
        let err = c.batch_execute(forbidden).await.expect_err(forbidden);
        assert!(
            orderflow::db::pg_message(&err).contains("permission denied"),
            "{forbidden}"
        );
    }
}
