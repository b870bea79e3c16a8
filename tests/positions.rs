//! Exact PnL on hand-built cases: rows go into the chain.* tables as the indexer writes them,
//! and the triggers keep flow.ledger and flow.positions up to date.

mod common;

use common::TestDb;
use tokio_postgres::Client;

const WALLET: &str = "\\x00000000000000000000000000000000000000aa";
const OTHER: &str = "\\x00000000000000000000000000000000000000bb";
const EXCHANGE_V2: &str = "\\xe111180000d2663c0091e4f400237545b87b996b";
const EXCHANGE_V1: &str = "\\x4bfb41d5b3570defd03c39a9a4d8de6bd8b8982e";
const CTF: &str = "\\x4d97dcd97ec945f40cf65f87097ace5ea0476045";
const CONDITION: &str = "\\x00000000000000000000000000000000000000000000000000000000000000c1";

async fn setup() -> (TestDb, Client) {
    let db = TestDb::new().await;
    let c = db.client().await;
    c.batch_execute(&format!(
        "SELECT chain.ensure_partitions(0, 1000);
         INSERT INTO market.tokens (token_id, condition_id, outcome_index, neg_risk, collateral, source, block_number, log_index)
         VALUES (1001, '{CONDITION}', 0, false, '\\x00', 'condition_preparation', 1, 0),
                (1002, '{CONDITION}', 1, false, '\\x00', 'condition_preparation', 1, 0);"
    ))
    .await
    .unwrap();
    (db, c)
}

/// One fill of `WALLET`'s order: side 0 BUY / 1 SELL, amounts in whole units (shares, USDC).
#[allow(clippy::too_many_arguments)] // the fields of one OrderFilled
async fn fill(
    c: &Client,
    block: i64,
    version: i16,
    side: i16,
    token: i64,
    shares: f64,
    usdc: f64,
    fee: f64,
) {
    let (maker_amount, taker_amount) = if side == 0 {
        (usdc, shares)
    } else {
        (shares, usdc)
    };
    let exchange = if version == 1 {
        EXCHANGE_V1
    } else {
        EXCHANGE_V2
    };
    c.execute(
        &format!(
            "INSERT INTO chain.order_filled (block_number, log_index, tx_hash, contract, version, order_hash, maker, taker,
                                             side, token_id, maker_amount, taker_amount, fee)
             VALUES ($1, 0, '\\x01', '{exchange}', $2, '\\x02', '{WALLET}', '{OTHER}', $3, $4::bigint::numeric,
                     round($5::float8 * 1e6)::bigint, round($6::float8 * 1e6)::bigint, round($7::float8 * 1e6)::bigint)"
        ),
        &[&block, &version, &side, &token, &maker_amount, &taker_amount, &fee],
    )
    .await
    .unwrap();
}

async fn split_or_merge(c: &Client, table: &str, block: i64, shares: f64) {
    c.execute(
        &format!(
            "INSERT INTO chain.{table} (block_number, log_index, tx_hash, contract, stakeholder, collateral,
                                        parent_collection_id, condition_id, partition, amount)
             VALUES ($1, 0, '\\x01', '{CTF}', '{WALLET}', '\\x00', '\\x00', '{CONDITION}', '{{1,2}}', round($2::float8 * 1e6)::bigint)"
        ),
        &[&block, &shares],
    )
    .await
    .unwrap();
}

async fn resolve(c: &Client, block: i64, numerators: &str) {
    c.execute(
        &format!(
            "INSERT INTO chain.condition_resolution (block_number, log_index, tx_hash, contract, condition_id, oracle,
                                                     question_id, outcome_slot_count, payout_numerators)
             VALUES ($1, 0, '\\x01', '{CTF}', '{CONDITION}', '\\x00', '\\x00', 2, '{numerators}')"
        ),
        &[&block],
    )
    .await
    .unwrap();
}

async fn redeem(c: &Client, block: i64, index_sets: &str) {
    c.execute(
        &format!(
            "INSERT INTO chain.payout_redemption (block_number, log_index, tx_hash, contract, redeemer, collateral,
                                                  parent_collection_id, condition_id, index_sets, payout)
             VALUES ($1, 0, '\\x01', '{CTF}', '{WALLET}', '\\x00', '\\x00', '{CONDITION}', '{index_sets}', 0)"
        ),
        &[&block],
    )
    .await
    .unwrap();
}

/// (shares, avg_price, realized_pnl, settled_pnl, pnl) of WALLET's position in `token`, as text.
async fn position(c: &Client, token: i64) -> (String, String, String, String, String) {
    let r = c
        .query_one(
            &format!(
                "SELECT shares::text, round(avg_price, 6)::text, realized_pnl::text, settled_pnl::text, pnl::text
                 FROM positions WHERE wallet_address = chain.hex('{WALLET}') AND token_id = $1::bigint::numeric"
            ),
            &[&token],
        )
        .await
        .unwrap();
    (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4))
}

fn p(
    shares: &str,
    avg: &str,
    realized: &str,
    settled: &str,
    pnl: &str,
) -> (String, String, String, String, String) {
    (
        shares.into(),
        avg.into(),
        realized.into(),
        settled.into(),
        pnl.into(),
    )
}

#[tokio::test]
async fn buy_then_partial_sells_realise_against_the_average_cost() {
    let (_db, c) = setup().await;
    fill(&c, 10, 2, 0, 1001, 100.0, 40.0, 0.0).await;
    fill(&c, 11, 2, 0, 1001, 100.0, 60.0, 0.0).await; // avg 0.50
    assert_eq!(
        position(&c, 1001).await,
        p("200.000000", "0.500000", "0.000000", "0.000000", "0.000000")
    );
    fill(&c, 12, 2, 1, 1001, 60.0, 42.0, 0.0).await; // 60 at 0.70: +12
    fill(&c, 13, 2, 1, 1001, 40.0, 12.0, 0.0).await; // 40 at 0.30: -8
    assert_eq!(
        position(&c, 1001).await,
        p("100.000000", "0.500000", "4.000000", "0.000000", "4.000000")
    );
    // Selling more than held realises only what is held.
    fill(&c, 14, 2, 1, 1001, 150.0, 90.0, 0.0).await; // 100 at 0.60: +10
    assert_eq!(
        position(&c, 1001).await,
        p("0.000000", "0.000000", "14.000000", "0.000000", "14.000000")
    );
}

#[tokio::test]
async fn fees_on_each_side_of_each_version() {
    let (_db, c) = setup().await;
    // V2: fee in collateral, on top of a BUY and out of a SELL.
    fill(&c, 10, 2, 0, 1001, 100.0, 40.0, 1.0).await; // cost 41 -> avg 0.41
    fill(&c, 11, 2, 1, 1001, 100.0, 50.0, 1.0).await; // proceeds 49 -> +8
    assert_eq!(
        position(&c, 1001).await,
        p("0.000000", "0.000000", "8.000000", "0.000000", "8.000000")
    );
    // V1: fee in what the order receives: shares on a BUY, collateral on a SELL.
    fill(&c, 20, 1, 0, 1002, 100.0, 40.0, 2.0).await; // 98 shares for 40
    assert_eq!(position(&c, 1002).await.0, "98.000000");
    fill(&c, 21, 1, 1, 1002, 98.0, 49.0, 1.0).await; // proceeds 48 -> +8
    assert_eq!(
        position(&c, 1002).await,
        p("0.000000", "0.000000", "8.000000", "0.000000", "8.000000")
    );
}

#[tokio::test]
async fn split_then_merge_is_flat_and_legs_cost_half() {
    let (_db, c) = setup().await;
    split_or_merge(&c, "position_split", 10, 100.0).await;
    assert_eq!(
        position(&c, 1001).await,
        p("100.000000", "0.500000", "0.000000", "0.000000", "0.000000")
    );
    assert_eq!(
        position(&c, 1002).await,
        p("100.000000", "0.500000", "0.000000", "0.000000", "0.000000")
    );
    // Sell the Yes leg dear, then merge what is left of the No leg with bought-back Yes.
    fill(&c, 11, 2, 1, 1001, 100.0, 70.0, 0.0).await; // +20
    fill(&c, 12, 2, 0, 1001, 40.0, 24.0, 0.0).await; // 40 at 0.60
    split_or_merge(&c, "positions_merge", 13, 40.0).await; // Yes: 40 at 0.5 vs 0.6 = -4; No: 40 at 0.5 vs 0.5 = 0
    assert_eq!(
        position(&c, 1001).await,
        p("0.000000", "0.000000", "16.000000", "0.000000", "16.000000")
    );
    assert_eq!(
        position(&c, 1002).await,
        p("60.000000", "0.500000", "0.000000", "0.000000", "0.000000")
    );
}

#[tokio::test]
async fn resolution_closes_held_positions_redeemed_or_not() {
    let (_db, c) = setup().await;
    fill(&c, 10, 2, 0, 1001, 20.0, 14.0, 0.0).await; // winner, 0.70
    fill(&c, 11, 2, 0, 1002, 50.0, 15.0, 0.0).await; // loser, 0.30, never redeemed
    resolve(&c, 20, "{1,0}").await;
    assert_eq!(
        position(&c, 1001).await,
        p("20.000000", "0.700000", "0.000000", "6.000000", "6.000000")
    );
    assert_eq!(
        position(&c, 1002).await,
        p(
            "50.000000",
            "0.300000",
            "0.000000",
            "-15.000000",
            "-15.000000"
        )
    );
    redeem(&c, 21, "{1}").await;
    assert_eq!(
        position(&c, 1001).await,
        p("0.000000", "0.000000", "6.000000", "0.000000", "6.000000")
    );
    assert_eq!(position(&c, 1002).await.4, "-15.000000");
}

#[tokio::test]
async fn a_fifty_fifty_resolution_pays_half() {
    let (_db, c) = setup().await;
    fill(&c, 10, 2, 0, 1001, 10.0, 6.0, 0.0).await;
    resolve(&c, 20, "{1,1}").await;
    assert_eq!(
        position(&c, 1001).await,
        p(
            "10.000000",
            "0.600000",
            "0.000000",
            "-1.000000",
            "-1.000000"
        )
    );
}

#[tokio::test]
async fn late_rows_and_unwinds_recompute_exactly() {
    let (_db, c) = setup().await;
    fill(&c, 10, 2, 0, 1001, 100.0, 40.0, 0.0).await;
    fill(&c, 30, 2, 1, 1001, 50.0, 30.0, 0.0).await;
    // A split that happened before the sell arrives after it (another table of the same batch).
    split_or_merge(&c, "position_split", 20, 100.0).await; // avg (40 + 50) / 200 = 0.45
    assert_eq!(
        position(&c, 1001).await,
        p("150.000000", "0.450000", "7.500000", "0.000000", "7.500000")
    );
    // A reorg unwinds block 30: the sell is gone, the rest stays.
    let n: i64 = c
        .query_one("SELECT chain.unwind(25)", &[])
        .await
        .unwrap()
        .get(0);
    assert!(n >= 1);
    assert_eq!(
        position(&c, 1001).await,
        p("200.000000", "0.450000", "0.000000", "0.000000", "0.000000")
    );
    assert_eq!(
        common::scalar_i64(
            &c,
            "SELECT count(*) FROM flow.ledger WHERE block_number > 25"
        )
        .await,
        0
    );
}

/// The fold is fed sorted rows without an ORDER BY of its own (flow.tg_ledger__fold), so the
/// step itself refuses a row that does not come after the one before it: a plan that broke
/// the order fails loudly instead of folding wrongly. In order, the same rows fold.
#[tokio::test]
async fn the_fold_refuses_rows_out_of_chain_order() {
    let (_db, c) = setup().await;
    let fold = |order: &str| {
        format!(
            "SELECT (flow.position_fold(NULL, r.qty, r.cash, NULL, r.b, r.l, 0::smallint, NULL)).amount
             FROM (SELECT * FROM (VALUES (10::bigint, 0, 100::bigint, -40::bigint),
                                         (10, 1, -50, 30),
                                         (12, 0, 20, -10)) v(b, l, qty, cash)
                   ORDER BY {order}) r"
        )
    };
    let amount: i64 = c
        .query_one(&fold("b, l"), &[])
        .await
        .unwrap()
        .get::<_, rust_decimal::Decimal>(0)
        .try_into()
        .unwrap();
    assert_eq!(amount, 70);
    for order in ["b DESC, l DESC", "b, l DESC"] {
        let err = c.query_one(&fold(order), &[]).await.unwrap_err();
        let msg = err
            .as_db_error()
            .map(|e| e.message().to_string())
            .unwrap_or_default();
        assert!(
            msg.contains("rows must come in chain order"),
            "ordered by {order}: {msg}"
        );
    }
}
#[tokio::test]
async fn a_negrisk_conversion_moves_cost_from_no_to_yes() {
    let (_db, c) = setup().await;
    // A neg-risk market of three questions; the wallet splits 100 on each through the adapter.
    let adapter = "\\xd91e80cf2e7be2e162c6513ced06f1dd0da35296";
    let market = "\\x00000000000000000000000000000000000000000000000000000000000000d0";
    for i in 0..3i64 {
        let question = format!("\\x{:064x}", 0xe0 + i);
        let condition = format!("\\x{:064x}", 0xf0 + i);
        c.batch_execute(&format!(
            "INSERT INTO chain.negrisk_question_prepared (block_number, log_index, tx_hash, contract, market_id, question_id, question_index, data)
             VALUES (2, {i}, '\\x01', '{adapter}', '{market}', '{question}', {i}, '\\x');
             INSERT INTO chain.condition_preparation (block_number, log_index, tx_hash, contract, condition_id, oracle, question_id, outcome_slot_count)
             VALUES (3, {i}, '\\x01', '{CTF}', '{condition}', '{adapter}', '{question}', 2);
             INSERT INTO market.tokens (token_id, condition_id, outcome_index, neg_risk, collateral, source, block_number, log_index)
             VALUES ({yes}, '{condition}', 0, true, '\\x00', 'condition_preparation', 3, {i}),
                    ({no}, '{condition}', 1, true, '\\x00', 'condition_preparation', 3, {i});
             INSERT INTO chain.negrisk_position_split (block_number, log_index, tx_hash, contract, stakeholder, condition_id, amount)
             VALUES (10, {i}, '\\x01', '{adapter}', '{WALLET}', '{condition}', 100000000);",
            yes = 2000 + 2 * i,
            no = 2001 + 2 * i,
        ))
        .await
        .unwrap();
    }
    // Convert the NO of questions 0 and 1 (index set 0b011) into YES of question 2.
    c.batch_execute(&format!(
        "INSERT INTO chain.negrisk_positions_converted (block_number, log_index, tx_hash, contract, stakeholder, market_id, index_set, amount)
         VALUES (20, 0, '\\x01', '{adapter}', '{WALLET}', '{market}', 3, 100000000);"
    ))
    .await
    .unwrap();
    // NO legs given up at cost (no PnL); YES of question 2 bought at (0.5 + 0.5 - 1) / 1 = 0.
    assert_eq!(
        position(&c, 2001).await,
        p("0.000000", "0.000000", "0.000000", "0.000000", "0.000000")
    );
    assert_eq!(
        position(&c, 2003).await,
        p("0.000000", "0.000000", "0.000000", "0.000000", "0.000000")
    );
    assert_eq!(
        position(&c, 2004).await,
        p("200.000000", "0.250000", "0.000000", "0.000000", "0.000000")
    );
    assert_eq!(position(&c, 2005).await.0, "100.000000"); // NO of question 2 untouched
    assert_eq!(position(&c, 2000).await.0, "100.000000"); // YES of question 0 untouched
}

#[tokio::test]
async fn wallet_stats_count_resolved_positions_not_fills() {
    let (_db, c) = setup().await;
    // Three fills into one winning position, one losing position, then resolution.
    fill(&c, 10, 2, 0, 1001, 10.0, 4.0, 0.0).await;
    fill(&c, 11, 2, 0, 1001, 10.0, 4.0, 0.0).await;
    fill(&c, 12, 2, 0, 1001, 10.0, 4.0, 0.0).await; // 30 at 0.40: +18 at payout 1
    fill(&c, 13, 2, 0, 1002, 10.0, 6.0, 0.0).await; // 10 at 0.60: -6 at payout 0
    resolve(&c, 20, "{1,0}").await;
    c.batch_execute("REFRESH MATERIALIZED VIEW CONCURRENTLY wallet_stats")
        .await
        .unwrap();
    let r = c
        .query_one(
            &format!(
                "SELECT resolved_positions, profitable_trades, losing_trades, win_rate::text, total_pnl::text,
                        profit_factor::text, edge::text, confidence_score::text, maker_share::text, markets_traded, fills
                 FROM wallet_stats WHERE wallet_address = chain.hex('{WALLET}')"
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(r.get::<_, i64>(0), 2);
    assert_eq!(r.get::<_, i64>(1), 1);
    assert_eq!(r.get::<_, i64>(2), 1);
    assert_eq!(r.get::<_, String>(3), "0.5000");
    assert_eq!(r.get::<_, String>(4), "12.00");
    assert_eq!(r.get::<_, String>(5), "3.0000"); // 18 / 6
    assert_eq!(r.get::<_, String>(6), "0.0000"); // ((1 - 0.4) + (0 - 0.6)) / 2
    assert_eq!(r.get::<_, String>(7), "0.2857"); // 2 / (2 + 5)
    assert_eq!(r.get::<_, String>(8), "1.0000"); // every fill rested on the book
    assert_eq!(r.get::<_, i64>(9), 1);
    assert_eq!(r.get::<_, i64>(10), 4);
    let labels = |w: &'static str| {
        let c = &c;
        async move {
            let r = c
                .query_one(
                    &format!("SELECT is_market_maker, is_wash_trader FROM wallet_stats WHERE wallet_address = chain.hex('{w}')"),
                    &[],
                )
                .await
                .unwrap();
            (r.get::<_, bool>(0), r.get::<_, bool>(1))
        }
    };
    assert_eq!(labels(WALLET).await, (false, false));
    // A wallet that fills its own orders is flagged as a wash trader.
    c.batch_execute(&format!(
        "INSERT INTO chain.order_filled (block_number, log_index, tx_hash, contract, version, order_hash, maker, taker,
                                         side, token_id, maker_amount, taker_amount, fee)
         VALUES (30, 0, '\\x01', '{EXCHANGE_V2}', 2, '\\x02', '{OTHER}', '{OTHER}', 0, 1001, 1000000, 2000000, 0);
         REFRESH MATERIALIZED VIEW CONCURRENTLY wallet_stats;"
    ))
    .await
    .unwrap();
    assert_eq!(labels(OTHER).await, (false, true));
}

#[tokio::test]
async fn a_short_lucky_record_never_outranks_a_long_good_one() {
    let (_db, c) = setup().await;
    // wallet_stats rows are what the score reads; build them through positions: a 3-for-3 wallet
    // and a 300-for-450 wallet, on markets resolved YES.
    let mut block = 10i64;
    let mut market = 0;
    let mut add = |wins: usize, losses: usize, wallet: &'static str| {
        let mut sql = String::new();
        for i in 0..(wins + losses) {
            market += 1;
            block += 1;
            let condition = format!("\\x{:064x}", 0x1000 + market);
            let (yes, no) = (100_000 + 2 * market, 100_001 + 2 * market);
            let token = if i < wins { yes } else { no };
            sql.push_str(&format!(
                "INSERT INTO market.tokens (token_id, condition_id, outcome_index, neg_risk, collateral, source, block_number, log_index)
                 VALUES ({yes}, '{condition}', 0, false, '\\x00', 'condition_preparation', 1, 0),
                        ({no}, '{condition}', 1, false, '\\x00', 'condition_preparation', 1, 0);
                 INSERT INTO chain.order_filled (block_number, log_index, tx_hash, contract, version, order_hash, maker, taker,
                                                 side, token_id, maker_amount, taker_amount, fee)
                 VALUES ({block}, 0, '\\x01', '{EXCHANGE_V2}', 2, '\\x02', '{wallet}', '{OTHER}', 0, {token}, 5000000, 10000000, 0);
                 INSERT INTO chain.condition_resolution (block_number, log_index, tx_hash, contract, condition_id, oracle,
                                                         question_id, outcome_slot_count, payout_numerators)
                 VALUES ({block}, 1, '\\x01', '{CTF}', '{condition}', '\\x00', '\\x00', 2, '{{1,0}}');"
            ));
        }
        sql
    };
    let lucky = "\\x00000000000000000000000000000000000000c1";
    let steady = "\\x00000000000000000000000000000000000000c2";
    let sql = add(3, 0, lucky) + &add(300, 150, steady);
    c.batch_execute(&sql).await.unwrap();
    c.batch_execute("SELECT flow.take_score_snapshot()")
        .await
        .unwrap();
    let score = |w: &'static str| {
        let c = &c;
        async move {
            c.query_one(
                &format!("SELECT score::float8 FROM wallet_scores_now WHERE wallet_address = chain.hex('{w}')"),
                &[],
            )
            .await
            .unwrap()
            .get::<_, f64>(0)
        }
    };
    let (l, s) = (score(lucky).await, score(steady).await);
    eprintln!("score 3-for-3: {l:.3}, 300-for-450: {s:.3}");
    assert!(s > l, "3-for-3 {l} outranks 300-for-450 {s}");
    assert!((0.0..=10.0).contains(&l) && (0.0..=10.0).contains(&s));
}

#[tokio::test]
async fn tight_round_trips_mark_a_wash_trader() {
    let (_db, c) = setup().await;
    // Three markets; in each, the wallet buys 10 shares at 0.50 and sells them back at 0.50 two
    // minutes later. A fourth position is held to resolution (a real view).
    let mut sql = String::new();
    for m in 0..4i64 {
        let condition = format!("\\x{:064x}", 0x2000 + m);
        let (yes, no) = (3000 + 2 * m, 3001 + 2 * m);
        sql.push_str(&format!(
            "INSERT INTO market.tokens (token_id, condition_id, outcome_index, neg_risk, collateral, source, block_number, log_index)
             VALUES ({yes}, '{condition}', 0, false, '\\x00', 'condition_preparation', 1, 0),
                    ({no}, '{condition}', 1, false, '\\x00', 'condition_preparation', 1, 0);
             INSERT INTO chain.order_filled (block_number, log_index, tx_hash, block_time, contract, version, order_hash,
                                             maker, taker, side, token_id, maker_amount, taker_amount, fee)
             VALUES ({b0}, 0, '\\x01', timestamptz '2026-06-01' + {b0} * interval '2 seconds', '{EXCHANGE_V2}', 2, '\\x02',
                     '{WALLET}', '{OTHER}', 0, {yes}, 5000000, 10000000, 0);",
            b0 = 100 + 100 * m
        ));
        if m < 3 {
            sql.push_str(&format!(
                "INSERT INTO chain.order_filled (block_number, log_index, tx_hash, block_time, contract, version, order_hash,
                                                 maker, taker, side, token_id, maker_amount, taker_amount, fee)
                 VALUES ({b1}, 0, '\\x01', timestamptz '2026-06-01' + {b1} * interval '2 seconds', '{EXCHANGE_V2}', 2, '\\x02',
                         '{WALLET}', '{OTHER}', 1, {yes}, 10000000, 5000000, 0);",
                b1 = 160 + 100 * m
            ));
        }
        sql.push_str(&format!(
            "INSERT INTO chain.condition_resolution (block_number, log_index, tx_hash, contract, condition_id, oracle,
                                                     question_id, outcome_slot_count, payout_numerators)
             VALUES (900, {m}, '\\x01', '{CTF}', '{condition}', '\\x00', '\\x00', 2, '{{1,0}}');"
        ));
    }
    c.batch_execute(&sql).await.unwrap();
    c.batch_execute("REFRESH MATERIALIZED VIEW wallet_stats")
        .await
        .unwrap();
    let r = c
        .query_one(
            &format!(
                "SELECT tight_round_trips, is_wash_trader, resolved_positions FROM wallet_stats
                 WHERE wallet_address = chain.hex('{WALLET}')"
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (r.get::<_, i64>(0), r.get::<_, bool>(1), r.get::<_, i64>(2)),
        (3, true, 4)
    );
    // Raising the bar above three round trips clears the label.
    c.batch_execute(
        "UPDATE strategy.parameters SET value = 4 WHERE name = 'wash_min_round_trips';
         REFRESH MATERIALIZED VIEW wallet_stats;",
    )
    .await
    .unwrap();
    let flagged: bool = c
        .query_one(
            &format!("SELECT is_wash_trader FROM wallet_stats WHERE wallet_address = chain.hex('{WALLET}')"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!flagged);
}

/// Asserts that flow.positions and flow.wallet_totals hold exactly the rows of the test's
/// copies of what the deferred derive made, bulk_positions and bulk_wallets (`how`: how the
/// tables were derived since).
async fn same_as_bulk(c: &tokio_postgres::Client, how: &str) {
    for (copy, table) in [
        ("bulk_positions", "flow.positions"),
        ("bulk_wallets", "flow.wallet_totals"),
    ] {
        let sql = format!(
            "SELECT count(*) FROM ((TABLE {copy} EXCEPT TABLE {table}) UNION ALL (TABLE {table} EXCEPT TABLE {copy})) d"
        );
        assert_eq!(
            common::scalar_i64(c, &sql).await,
            0,
            "{table} {how} differs from {copy}"
        );
    }
}

/// flow.derive_part(part, 2, ids): the ledger rows it added.
async fn derive_part(c: &tokio_postgres::Client, part: i32, ids: &[i64]) -> i64 {
    c.query_one("SELECT flow.derive_part($1, 2, $2)", &[&part, &ids])
        .await
        .unwrap()
        .get(0)
}

/// The simulated world of the derive tests, imported through the library in 5,000-log batches.
async fn import_world(db: &TestDb) -> orderflow::ingest::ImportSummary {
    use orderflow::sim::{Sim, SimConfig};
    let lines: Vec<String> = Sim::new(SimConfig {
        seed: 11,
        blocks: 4_000,
        ..SimConfig::default()
    })
    .unwrap()
    .flat_map(|b| b.into_raw_logs())
    .map(|l| l.to_json())
    .collect();
    let path = common::temp_file("deferred", &lines);
    let summary = common::import_file(db, &path, 5_000).await;
    std::fs::remove_file(&path).ok();
    summary
}

/// Keeps what the import derived as bulk_positions and bulk_wallets, then derives everything
/// again from an emptied ledger block by block, as at the head.
async fn derive_block_by_block(c: &Client) {
    c.batch_execute(
        "CREATE TABLE bulk_positions AS SELECT * FROM flow.positions;
         CREATE TABLE bulk_wallets AS SELECT * FROM flow.wallet_totals;
         TRUNCATE flow.ledger, flow.positions, flow.wallet_totals;
         DO $$

         DECLARE b bigint;
         BEGIN
             FOR b IN SELECT DISTINCT block_number FROM chain.order_filled
                      UNION SELECT block_number FROM chain.position_split
                      UNION SELECT block_number FROM chain.positions_merge
                      UNION SELECT block_number FROM chain.negrisk_position_split
                      UNION SELECT block_number FROM chain.negrisk_positions_merge
                      UNION SELECT block_number FROM chain.payout_redemption
                      UNION SELECT block_number FROM chain.negrisk_payout_redemption
                      UNION SELECT block_number FROM chain.negrisk_positions_converted
                      ORDER BY 1
             LOOP
                 PERFORM flow.derive_range(ARRAY['chain.order_filled', 'chain.position_split', 'chain.positions_merge',
                     'chain.negrisk_position_split', 'chain.negrisk_positions_merge', 'chain.payout_redemption',
                     'chain.negrisk_payout_redemption', 'chain.negrisk_positions_converted']::regclass[], b, b);
             END LOOP;
         END $$;",
    )
    .await
    .unwrap();
}

/// The indexer defers derivation and folds large block ranges at once, on a second connection
/// while it goes on storing; that must give exactly what deriving block by block (as at the
/// head) gives, on a simulated world with splits, merges, conversions and redemptions.
/// Conversions are priced at their own block on both sides (derive_conversion_blocks 1). The
/// queue is empty afterwards, and an unwind trims it.
#[tokio::test]
async fn deferred_derivation_equals_deriving_block_by_block() {
    let db = TestDb::new().await;
    let c = db.client().await;
    // Many small derives alongside the 5,000-log batches (derive_idle_ms 0: whether or not the
    // writer waits for the parser).
    common::set_params(
        &c,
        &[
            ("derive_conversion_blocks", 1),
            ("derive_alongside_rows", 2000),
            ("derive_idle_ms", 0),
        ],
    )
    .await;
    let summary = import_world(&db).await;
    assert!(
        summary.batches > 3 && summary.derive_alongside_secs > 0.0,
        "derives ran alongside the writes: {summary}"
    );
    assert_eq!(
        common::scalar_i64(&c, "SELECT count(*) FROM flow.derive_queue").await,
        0
    );
    let counts = c
        .query_one(
            "SELECT (SELECT count(*) FROM flow.ledger WHERE kind = 'convert'),
                    (SELECT count(*) FROM flow.ledger WHERE kind IN ('split', 'merge')),
                    (SELECT count(*) FROM flow.ledger WHERE kind = 'redeem'),
                    (SELECT count(*) FROM flow.positions)",
            &[],
        )
        .await
        .unwrap();
    let (conv, split_merge, redeem, positions): (i64, i64, i64, i64) =
        (counts.get(0), counts.get(1), counts.get(2), counts.get(3));
    assert!(
        conv > 0 && split_merge > 0 && redeem > 0 && positions > 100,
        "the world must exercise every rule: {conv} conversion, {split_merge} split/merge, {redeem} redemption rows, {positions} positions"
    );

    derive_block_by_block(&c).await;
    same_as_bulk(&c, "derived block by block").await;

    // Derived again in two parts by wallet, side by side on two connections (as the writer's
    // end-of-import derive), with a part run twice (a writer stopped before taking the ranges
    // off the queue): the same positions and totals again.
    c.batch_execute(
        "TRUNCATE flow.ledger, flow.positions, flow.wallet_totals;
         INSERT INTO flow.derive_queue (source, from_block, to_block, rows)
         SELECT t::regclass, 0, 1000000000, 1
         FROM unnest(ARRAY['chain.order_filled', 'chain.position_split', 'chain.positions_merge',
                           'chain.negrisk_position_split', 'chain.negrisk_positions_merge', 'chain.payout_redemption',
                           'chain.negrisk_payout_redemption', 'chain.negrisk_positions_converted']) t",
    )
    .await
    .unwrap();
    let ids: Vec<i64> = c
        .query_one("SELECT array_agg(id) FROM flow.derive_queue", &[])
        .await
        .unwrap()
        .get(0);
    let other = db.client().await;
    let (a, b) = tokio::join!(derive_part(&c, 0, &ids), derive_part(&other, 1, &ids));
    assert!(a > 0 && b > 0, "both parts add ledger rows: {a}, {b}");
    assert_eq!(
        derive_part(&other, 1, &ids).await,
        0,
        "a part derived again adds nothing"
    );
    assert_eq!(
        common::scalar_i64(&c, "SELECT flow.derive()").await,
        0,
        "deriving the ranges still queued adds nothing"
    );
    assert_eq!(
        common::scalar_i64(&c, "SELECT count(*) FROM flow.derive_queue").await,
        0
    );
    same_as_bulk(&c, "derived in parts").await;

    // A range queued across a fork keeps only what lies at or below it.
    let top = common::scalar_i64(&c, "SELECT max(block_number) FROM chain.order_filled").await;
    c.execute(
        "INSERT INTO flow.derive_queue (source, from_block, to_block, rows)
         VALUES ('chain.order_filled', $1::bigint - 10, $1, 1), ('chain.order_filled', $1::bigint - 2, $1, 1)",
        &[&top],
    )
    .await
    .unwrap();
    c.execute("SELECT chain.unwind($1::bigint - 5)", &[&top])
        .await
        .unwrap();
    let left = c
        .query(
            "SELECT from_block - $1::bigint, to_block - $1::bigint FROM flow.derive_queue ORDER BY id",
            &[&top],
        )
        .await
        .unwrap();
    let left: Vec<(i64, i64)> = left.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(left, vec![(-10, -5)]);
}

/// A writer that never waits for its input (derive_idle_ms far above any wait here) derives
/// nothing beside its writes: it stops every derive_every_rows events and derives them in two
/// parts side by side, and at its end. That gives exactly what deriving block by block gives.
#[tokio::test]
async fn a_busy_writer_derives_in_parts_and_equals_deriving_block_by_block() {
    let db = TestDb::new().await;
    let c = db.client().await;
    common::set_params(
        &c,
        &[
            ("derive_conversion_blocks", 1),
            ("derive_every_rows", 3000),
            ("derive_alongside_rows", 1000),
            ("derive_idle_ms", 60000),
        ],
    )
    .await;
    let summary = import_world(&db).await;
    assert!(
        summary.batches > 3 && summary.derive_alongside_secs == 0.0 && summary.derive_stops >= 2,
        "derives ran between the writes, none beside them: {summary}"
    );
    assert_eq!(
        common::scalar_i64(&c, "SELECT count(*) FROM flow.derive_queue").await,
        0
    );
    assert!(common::scalar_i64(&c, "SELECT count(*) FROM flow.positions").await > 100);
    derive_block_by_block(&c).await;
    same_as_bulk(&c, "derived block by block").await;
}

/// Lines that arrive slowly, as from a pipe: a pause of 300 ms after every 2,000 lines.
struct SlowLines {
    data: std::io::Cursor<Vec<u8>>,
    lines_since_pause: usize,
}

impl std::io::Read for SlowLines {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.lines_since_pause >= 2_000 {
            std::thread::sleep(std::time::Duration::from_millis(300));
            self.lines_since_pause = 0;
        }
        // One line at most, so the pauses fall where they are counted.
        let rest = &self.data.get_ref()[self.data.position() as usize..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1)
            .min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.data.set_position(self.data.position() + n as u64);
        self.lines_since_pause += 1;
        Ok(n)
    }
}

/// A writer kept waiting for its input (derive_idle_ms 20, far below the pauses) derives
/// positions beside its writes meanwhile, and ends with what deriving block by block gives.
#[tokio::test]
async fn a_waiting_writer_derives_beside_its_writes() {
    use orderflow::sim::{Sim, SimConfig};
    let db = TestDb::new().await;
    let c = db.client().await;
    common::set_params(
        &c,
        &[
            ("derive_conversion_blocks", 1),
            ("derive_alongside_rows", 1000),
            ("derive_idle_ms", 20),
        ],
    )
    .await;
    let text: String = Sim::new(SimConfig {
        seed: 11,
        blocks: 2_000,
        ..SimConfig::default()
    })
    .unwrap()
    .flat_map(|b| b.into_raw_logs())
    .map(|l| l.to_json() + "\n")
    .collect();
    let mut w = orderflow::ingest::Writer::new(db.client().await)
        .await
        .unwrap();
    w.derive_alongside(db.client().await).await.unwrap();
    let opts = orderflow::ingest::ImportOptions {
        batch_size: 2_000,
        ..Default::default()
    };
    let input = std::io::BufReader::new(SlowLines {
        data: std::io::Cursor::new(text.into_bytes()),
        lines_since_pause: 0,
    });
    let summary =
        orderflow::ingest::import(input, "slow", None, &mut w, &opts, std::future::pending())
            .await
            .unwrap();
    assert!(
        summary.batches > 3 && summary.derive_alongside_secs > 0.0,
        "derives ran beside the writes while they waited: {summary}"
    );
    derive_block_by_block(&c).await;
    same_as_bulk(&c, "derived block by block").await;
}
