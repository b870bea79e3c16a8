//! Signals in SQL on hand-built rows: which fills make FOLLOW and FADE, with exact outputs.

mod common;
#[path = "trading/mod.rs"]
mod trading;

use common::{scalar_i64, strings, TestDb};
use futures::{stream, StreamExt};
use tokio_postgres::{AsyncMessage, Client, NoTls};
use trading::*;

async fn setup() -> (TestDb, Client) {
    let db = TestDb::new().await;
    let c = db.client().await;
    markets(&c).await;
    (db, c)
}

#[tokio::test]
async fn follow_fires_at_seven_and_not_at_six_point_nine() {
    let (_db, c) = setup().await;
    let snap = snapshot(
        &c,
        3600.0,
        &[
            scored(1, 7.0),
            scored(2, 6.9),
            scored(3, 10.0),
            scored(4, 8.5),
        ],
    )
    .await;
    insert(
        &c,
        &[
            fill(100, 0, 2, 0, 1001, 100.0, 0.40), // 6.9: no
            fill(100, 1, 1, 0, 1001, 100.0, 0.40), // 7.0: FOLLOW
            fill(100, 2, 3, 0, 2001, 50.0, 0.25),  // 10: FOLLOW at full confidence
            fill(100, 3, 4, 0, 2002, 20.0, 0.50),  // 8.5: half way
        ],
    )
    .await;
    let rows = c
        .query(
            "SELECT action, wallet_address, market_id, token_id::text, outcome_index, side, trigger_side, trigger_role,
                    trigger_price::text, size::text, confidence::text, score::text, snapshot_id, panic_sellers,
                    block_number, log_index, status, reorged
             FROM signals ORDER BY signal_id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    let r = &rows[0];
    assert_eq!(r.get::<_, String>(0), "FOLLOW");
    assert_eq!(r.get::<_, String>(1), hex(1));
    assert_eq!(r.get::<_, String>(2), format!("0x{}", &MARKET1[2..]));
    assert_eq!(r.get::<_, String>(3), "1001");
    assert_eq!(r.get::<_, i16>(4), 0);
    assert_eq!(r.get::<_, String>(5), "BUY");
    assert_eq!(r.get::<_, String>(6), "BUY");
    assert_eq!(r.get::<_, String>(7), "taker");
    assert_eq!(r.get::<_, String>(8), "0.400000");
    assert_eq!(r.get::<_, String>(9), "100.000000");
    assert_eq!(r.get::<_, String>(10), "0.6000"); // follow_confidence_min at follow_min
    assert_eq!(r.get::<_, String>(11), "7");
    assert_eq!(r.get::<_, i64>(12), snap);
    assert_eq!(r.get::<_, Option<i32>>(13), None);
    assert_eq!((r.get::<_, i64>(14), r.get::<_, i32>(15)), (100, 1));
    assert_eq!(r.get::<_, String>(16), "new");
    assert!(!r.get::<_, bool>(17));
    // Score 10: follow_confidence_max; 8.5: 0.60 + 0.25 * 1.5 / 3 = 0.725.
    assert_eq!(
        (rows[1].get::<_, String>(1), rows[1].get::<_, String>(10)),
        (hex(3), "0.8500".to_owned())
    );
    assert_eq!(
        (rows[2].get::<_, String>(1), rows[2].get::<_, String>(10)),
        (hex(4), "0.7250".to_owned())
    );
    let reason: String = c
        .query_one("SELECT reason FROM signals ORDER BY signal_id LIMIT 1", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        reason,
        format!(
            "FOLLOW: wallet {} scored 7 (>= follow_min 7.0, snapshot {snap}) bought 100.000000 shares at 0.400000 as taker",
            hex(1)
        )
    );
}

#[tokio::test]
async fn market_makers_wash_traders_unscored_wallets_and_sells_are_not_followed() {
    let (_db, c) = setup().await;
    let mut mm = scored(1, 9.0);
    mm.market_maker = true;
    let mut wash = scored(2, 9.5);
    wash.wash = true;
    snapshot(&c, 3600.0, &[mm, wash, scored(3, 9.0)]).await;
    insert(
        &c,
        &[
            fill(100, 0, 1, 0, 1001, 100.0, 0.4), // market maker
            fill(100, 1, 2, 0, 1002, 100.0, 0.4), // wash trader
            fill(100, 2, 7, 0, 2001, 100.0, 0.4), // no score row
            fill(100, 3, 3, 1, 2002, 100.0, 0.4), // skilled, but selling
        ],
    )
    .await;
    assert_eq!(signals(&c).await, vec![]);
    // The same skilled wallet buying is followed.
    insert(&c, &[fill(101, 0, 3, 0, 2002, 100.0, 0.4)]).await;
    assert_eq!(signals(&c).await, vec![sig("FOLLOW", 3, 2002, None)]);
}

#[tokio::test]
async fn follow_counts_maker_fills_and_fade_counts_only_taker_sells_unless_told() {
    let (_db, c) = setup().await;
    snapshot(
        &c,
        3600.0,
        &[
            scored(1, 8.0),
            scored(11, 1.0),
            scored(12, 1.0),
            scored(13, 1.0),
            scored(14, 1.0),
            scored(15, 1.0),
        ],
    )
    .await;
    let mut resting_buy = fill(100, 0, 1, 0, 1001, 10.0, 0.5);
    resting_buy.taker = false;
    insert(&c, &[resting_buy]).await;
    assert_eq!(signals(&c).await, vec![sig("FOLLOW", 1, 1001, None)]);
    let trigger = c
        .query_one("SELECT trigger_role FROM signals", &[])
        .await
        .unwrap()
        .get::<_, String>(0);
    assert_eq!(trigger, "maker");
    // Five unskilled wallets whose resting asks were lifted: not a panic.
    let resting_sells: Vec<Fill> = (0..5)
        .map(|i| {
            let mut f = fill(101, i, 11 + i as u32, 1, 1002, 10.0, 0.3);
            f.taker = false;
            f
        })
        .collect();
    insert(&c, &resting_sells).await;
    assert_eq!(signals(&c).await.len(), 1);
    // With fade_maker_fills = 1 the same flow is a panic.
    set_param(&c, "fade_maker_fills", 1.0).await;
    let again: Vec<Fill> = resting_sells
        .iter()
        .map(|f| Fill { block: 102, ..*f })
        .collect();
    insert(&c, &again).await;
    assert_eq!(
        signals(&c).await,
        // The first sale of the new batch already sees five sellers (the lifted asks of block
        // 101 count now), and the cooldown keeps the rest quiet.
        vec![sig("FOLLOW", 1, 1001, None), sig("FADE", 11, 1002, Some(5))]
    );
    // follow_maker_fills = 0: a resting buy is no longer followed.
    set_param(&c, "follow_maker_fills", 0.0).await;
    set_param(&c, "signal_cooldown_seconds", 0.0).await;
    insert(
        &c,
        &[Fill {
            block: 103,
            ..resting_buy
        }],
    )
    .await;
    assert_eq!(signals(&c).await.len(), 2);
}

#[tokio::test]
async fn fade_needs_panic_min_distinct_unskilled_sellers_in_the_window() {
    let (_db, c) = setup().await;
    let mut low: Vec<Scored> = (11..=24).map(|n| scored(n, 2.0)).collect();
    low.push(scored(30, 3.0)); // exactly fade_max: counts
    low.push(scored(31, 3.1)); // above: does not
    let mut mm = scored(32, 1.0);
    mm.market_maker = true;
    low.push(mm);
    snapshot(&c, 3600.0, &low).await;
    // Four distinct unskilled sellers (one of them twice), plus sellers that do not count:
    // score 3.1, a market maker, an unscored wallet, one selling the other outcome, and one
    // whose sale is older than panic_window (300 s) before the trigger.
    let mut old = fill(90, 0, 20, 1, 1001, 10.0, 0.3);
    old.age_secs = Some(302.0);
    insert(&c, &[old]).await;
    insert(
        &c,
        &[
            fill(100, 0, 11, 1, 1001, 10.0, 0.30),
            fill(100, 1, 12, 1, 1001, 10.0, 0.29),
            fill(100, 2, 11, 1, 1001, 10.0, 0.28),
            fill(100, 3, 31, 1, 1001, 10.0, 0.28),
            fill(100, 4, 32, 1, 1001, 10.0, 0.28),
            fill(100, 5, 40, 1, 1001, 10.0, 0.28),
            fill(100, 6, 21, 1, 1002, 10.0, 0.70),
            fill(101, 0, 13, 1, 1001, 10.0, 0.27),
            fill(101, 1, 30, 1, 1001, 10.0, 0.26),
        ],
    )
    .await;
    assert_eq!(signals(&c).await, vec![], "four sellers are one too few");
    // The fifth distinct seller completes the panic: FADE buys what they sell.
    insert(&c, &[fill(102, 0, 14, 1, 1001, 25.0, 0.25)]).await;
    assert_eq!(signals(&c).await, vec![sig("FADE", 14, 1001, Some(5))]);
    let r = c
        .query_one(
            "SELECT v.side, v.trigger_side, v.trigger_price::text, v.size::text, v.confidence::text, v.score::text,
                    array_to_string(ARRAY(SELECT chain.hex(x) FROM unnest(s.panic_wallets) x ORDER BY 1), ',')
             FROM signals v JOIN strategy.signals s USING (signal_id)",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(r.get::<_, String>(0), "BUY");
    assert_eq!(r.get::<_, String>(1), "SELL");
    assert_eq!(r.get::<_, String>(2), "0.250000");
    assert_eq!(r.get::<_, String>(3), "25.000000");
    assert_eq!(r.get::<_, String>(4), "0.5500"); // fade_confidence_min at panic_min
    assert_eq!(r.get::<_, String>(5), "2");
    assert_eq!(
        r.get::<_, String>(6),
        [hex(11), hex(12), hex(13), hex(14), hex(30)].join(",")
    );
}

/// The signals of blocks `from..` as text rows, everything that differs between two searches.
async fn signal_rows(c: &Client, from: i64) -> Vec<String> {
    strings(
        c,
        &format!(
            "SELECT concat_ws(' ', action, block_number, log_index, chain.hex(wallet), token_id, confidence,
                              panic_sellers, (SELECT string_agg(chain.hex(x), ',' ORDER BY x) FROM unnest(panic_wallets) x))
             FROM strategy.signals WHERE block_number >= {from} ORDER BY block_number, log_index, action"
        ),
    )
    .await
}

/// The same blocks replayed through make_signals from chain.order_filled alone (no kept sells),
/// rolled back.
async fn signal_rows_searched(c: &Client, from: i64, to: i64) -> Vec<String> {
    c.batch_execute(&format!(
        "BEGIN; DELETE FROM strategy.signals; DELETE FROM strategy.panic_cover;
         SELECT count(*) FROM generate_series({from}, {to}) b,
             LATERAL (SELECT strategy.make_signals(array_agg(f ORDER BY f.log_index), max(f.block_time) + interval '2 seconds')
                      FROM chain.order_filled f WHERE f.block_number = b) m"
    ))
    .await
    .unwrap();
    let rows = signal_rows(c, from).await;
    c.batch_execute("ROLLBACK").await.unwrap();
    rows
}

#[tokio::test]
async fn the_panic_search_reads_the_kept_sells_and_finds_what_the_fills_give() {
    let (_db, c) = setup().await;
    // Unskilled 11..=30; 31..=35 in between; 36 an unskilled market maker.
    let mut rows: Vec<Scored> = (11..=30)
        .map(|n| scored(n, 1.0 + f64::from(n % 3)))
        .collect();
    rows.extend((31..=35).map(|n| scored(n, 5.0)));
    let mut mm = scored(36, 1.0);
    mm.market_maker = true;
    rows.push(mm);
    let first = snapshot(&c, 3600.0, &rows).await;
    set_param(&c, "signal_cooldown_seconds", 0.0).await; // every candidate is a signal
    set_param(&c, "block_seconds_min", 2.0).await;
    // A busy token (1001) and a quiet one (2001, near panic_min), one statement a block, as the
    // head follower writes them; panic_window 300 s holds at most 150 blocks of 2 s.
    let block = |b: i64| -> Vec<Fill> {
        let mut v = vec![
            fill(b, 0, 11 + (b * 7 % 25) as u32, 1, 1001, 5.0, 0.4),
            fill(b, 1, 11 + (b * 3 % 26) as u32, 1, 1001, 5.0, 0.4),
            fill(b, 2, 31 + (b % 6) as u32, 0, 1001, 5.0, 0.6),
        ];
        let mut maker_sell = fill(b, 3, 11 + (b % 20) as u32, 1, 1001, 5.0, 0.4);
        maker_sell.taker = false; // a resting ask: not counted
        v.push(maker_sell);
        if b % 9 == 0 {
            v.push(fill(b, 4, 11 + (b / 9 % 20) as u32, 1, 2001, 5.0, 0.4));
        }
        v
    };
    // The first fresh block starts the cover at the first block of its window, with the sells
    // stored there (none before it here, and no block rows: the window is its 150 blocks).
    insert(&c, &block(100)).await;
    let cover: (i64, i64) = c
        .query_one(
            "SELECT snapshot_id, from_block FROM strategy.panic_cover",
            &[],
        )
        .await
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!(cover, (first, 100 - 150));
    for b in 101..=460 {
        insert(&c, &block(b)).await;
    }
    // Pruned behind twice the window: from_block moved up and nothing below it is kept.
    let (from, kept_below, kept): (i64, i64, i64) = c
        .query_one(
            "SELECT from_block, (SELECT count(*) FROM strategy.panic_sells WHERE block_number < from_block),
                    (SELECT count(*) FROM strategy.panic_sells)
             FROM strategy.panic_cover",
            &[],
        )
        .await
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .unwrap();
    assert_eq!((from, kept_below), (460 - 300, 0));
    // What is kept: every taker sell from from_block on by a wallet unskilled in the snapshot.
    let expected = scalar_i64(
        &c,
        "SELECT count(*) FROM chain.order_filled o JOIN flow.wallet_scores w ON w.wallet = o.maker AND w.snapshot_id = 1
         WHERE o.block_number >= 160 AND o.side = 1 AND o.taker = o.contract AND w.score <= 3 AND NOT w.is_market_maker",
    )
    .await;
    assert!(expected > 300);
    assert_eq!(kept, expected);
    // Every block searched the kept sells (its window lay at or above from_block): the signals
    // are those a search of the fills alone gives.
    let live = signal_rows(&c, 101).await;
    assert!(live.iter().filter(|r| r.starts_with("FADE")).count() > 500);
    assert!(live
        .iter()
        .any(|r| r.starts_with("FADE") && r.contains(" 2001 ")));
    assert_eq!(live, signal_rows_searched(&c, 101, 460).await);

    // A reorg unwinds the kept sells with their fills; the new chain is kept again.
    c.batch_execute("SELECT chain.unwind(440)").await.unwrap();
    assert_eq!(
        scalar_i64(
            &c,
            "SELECT count(*) FROM strategy.panic_sells WHERE block_number > 440"
        )
        .await,
        0
    );
    for b in 441..=460 {
        let mut v = block(b);
        v.retain(|f| f.log != 1); // the new chain lacks one sell a block
        insert(&c, &v).await;
    }
    assert_eq!(
        signal_rows(&c, 101).await,
        signal_rows_searched(&c, 101, 460).await
    );

    // A new snapshot starts the cover anew, from the first block of the window, with the sells
    // of the wallets unskilled in it.
    // (As of half a second ago: after every stored fill's time, before the new block's.)
    let second = snapshot(&c, 0.5, &rows[..10]).await;
    let mut next = block(461);
    for f in &mut next {
        f.age_secs = Some(0.1);
    }
    insert(&c, &next).await;
    let cover: (i64, i64, i64) = c
        .query_one(
            "SELECT snapshot_id, from_block, (SELECT count(*) FROM strategy.panic_sells) FROM strategy.panic_cover",
            &[],
        )
        .await
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .unwrap();
    let expected = scalar_i64(
        &c,
        &format!(
            "SELECT count(*) FROM chain.order_filled o JOIN flow.wallet_scores w ON w.wallet = o.maker AND w.snapshot_id = {second}
             WHERE o.block_number >= 311 AND o.side = 1 AND o.taker = o.contract AND w.score <= 3"
        ),
    )
    .await;
    assert!(expected > 100);
    assert_eq!(cover, (second, 461 - 150, expected));
    assert_eq!(
        signal_rows(&c, 101).await,
        signal_rows_searched(&c, 101, 461).await
    );
}

#[tokio::test]
async fn fade_confidence_grows_with_the_panic() {
    let (_db, c) = setup().await;
    snapshot(
        &c,
        3600.0,
        &(11..=30).map(|n| scored(n, 1.0)).collect::<Vec<_>>(),
    )
    .await;
    set_param(&c, "signal_cooldown_seconds", 0.0).await;
    // Seven sellers of 1001: the 5th fires at 0.55, the 6th at 0.59, the 7th at 0.63.
    let panic: Vec<Fill> = (0..7)
        .map(|i| fill(100, i, 11 + i as u32, 1, 1001, 10.0, 0.3))
        .collect();
    insert(&c, &panic).await;
    // Twelve sellers of 2001: from the 10th on, fade_confidence_max.
    let big: Vec<Fill> = (0..12)
        .map(|i| fill(101, i, 11 + i as u32, 1, 2001, 10.0, 0.3))
        .collect();
    insert(&c, &big).await;
    let got: Vec<(String, i32, String)> = c
        .query(
            "SELECT token_id::text, panic_sellers, confidence::text FROM signals ORDER BY signal_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let want = [
        ("1001", 5, "0.5500"),
        ("1001", 6, "0.5900"),
        ("1001", 7, "0.6300"),
        ("2001", 5, "0.5500"),
        ("2001", 6, "0.5900"),
        ("2001", 7, "0.6300"),
        ("2001", 8, "0.6700"),
        ("2001", 9, "0.7100"),
        ("2001", 10, "0.7500"),
        ("2001", 11, "0.7500"),
        ("2001", 12, "0.7500"),
    ];
    assert_eq!(
        got,
        want.iter()
            .map(|(t, n, p)| (t.to_string(), *n, p.to_string()))
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn cooldown_per_market_outcome_and_action() {
    let (_db, c) = setup().await;
    snapshot(
        &c,
        3600.0,
        &[scored(1, 8.0), scored(2, 9.0), scored(3, 9.0)],
    )
    .await;
    set_param(&c, "signal_cooldown_seconds", 30.0).await;
    let at = |block, log, wallet, token, age| Fill {
        age_secs: Some(age),
        ..fill(block, log, wallet, 0, token, 10.0, 0.5)
    };
    // Two buys of 1001 in one batch 10 s apart: one FOLLOW. The other outcome of the market
    // is its own key.
    insert(
        &c,
        &[
            at(100, 0, 1, 1001, 100.0),
            at(105, 0, 2, 1001, 90.0),
            at(105, 1, 2, 1002, 90.0),
        ],
    )
    .await;
    assert_eq!(
        signals(&c).await,
        vec![sig("FOLLOW", 1, 1001, None), sig("FOLLOW", 2, 1002, None)]
    );
    // 20 s after the first: still cooling down; 60 s after: a new signal.
    insert(&c, &[at(110, 0, 3, 1001, 80.0)]).await;
    assert_eq!(signals(&c).await.len(), 2);
    insert(&c, &[at(111, 0, 3, 1001, 40.0)]).await;
    assert_eq!(
        signals(&c).await.last().unwrap(),
        &sig("FOLLOW", 3, 1001, None)
    );
    assert_eq!(signals(&c).await.len(), 3);
}

#[tokio::test]
async fn fills_of_stale_blocks_make_no_signal_but_a_replay_with_its_own_now_does() {
    let (_db, c) = setup().await;
    snapshot(&c, 7200.0, &[scored(1, 8.0)]).await;
    let mut stale = fill(100, 0, 1, 0, 1001, 10.0, 0.5);
    stale.age_secs = Some(121.0); // signal_max_age_seconds is 120
    let mut timeless = fill(100, 1, 1, 0, 1002, 10.0, 0.5);
    timeless.age_secs = None;
    insert(&c, &[stale, timeless]).await;
    assert_eq!(signals(&c).await, vec![]);
    let mut fresh = fill(101, 0, 1, 0, 2001, 10.0, 0.5);
    fresh.age_secs = Some(119.0);
    insert(&c, &[fresh]).await;
    assert_eq!(signals(&c).await, vec![sig("FOLLOW", 1, 2001, None)]);
    // A backtest replays the stale fill through the same function with its own "now".
    let ids: Vec<i64> = c
        .query(
            "SELECT strategy.make_signals(array_agg(f), max(f.block_time) + interval '2 seconds')
             FROM chain.order_filled f WHERE block_number = 100",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids.len(), 1);
    let (token, lag): (String, f64) = c
        .query_one(
            "SELECT token_id::text, extract(epoch FROM created_at - block_time)::float8 FROM signals WHERE signal_id = $1",
            &[&ids[0]],
        )
        .await
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!((token.as_str(), lag), ("1001", 2.0));
}

#[tokio::test]
async fn scores_are_point_in_time() {
    let (_db, c) = setup().await;
    // An hour ago the wallet scored 8; ten seconds ago a new snapshot scored it 5.
    let old = snapshot(&c, 3600.0, &[scored(1, 8.0)]).await;
    snapshot(&c, 10.0, &[scored(1, 5.0)]).await;
    // A buy 30 s ago was made when the old snapshot was the newest: followed, with score 8.
    let mut before = fill(100, 0, 1, 0, 1001, 10.0, 0.5);
    before.age_secs = Some(30.0);
    // A buy now sees the new snapshot: not followed.
    let now = fill(101, 0, 1, 0, 2001, 10.0, 0.5);
    insert(&c, &[before, now]).await;
    let r = c
        .query(
            "SELECT token_id::text, score::text, snapshot_id FROM signals",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(
        (
            r[0].get::<_, String>(0),
            r[0].get::<_, String>(1),
            r[0].get::<_, i64>(2)
        ),
        ("1001".to_owned(), "8".to_owned(), old)
    );
}

#[tokio::test]
async fn a_reorg_deletes_undecided_signals_and_marks_decided_ones() {
    let (_db, c) = setup().await;
    snapshot(&c, 3600.0, &[scored(1, 8.0)]).await;
    insert(
        &c,
        &[
            fill(100, 0, 1, 0, 1001, 10.0, 0.5),
            fill(101, 0, 1, 0, 1002, 10.0, 0.5),
            fill(102, 0, 1, 0, 2001, 10.0, 0.5),
        ],
    )
    .await;
    assert_eq!(signals(&c).await.len(), 3);
    // The executor took the signal of block 101; block 102's is still waiting.
    c.batch_execute(
        "UPDATE strategy.signals SET status = 'taken', decided_at = now() WHERE block_number = 101",
    )
    .await
    .unwrap();
    c.batch_execute("SELECT chain.unwind(100)").await.unwrap();
    let rows: Vec<(i64, String, bool)> = c
        .query(
            "SELECT block_number, status, reorged FROM signals ORDER BY block_number",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        rows,
        vec![
            (100, "new".to_owned(), false),
            (101, "taken".to_owned(), true)
        ]
    );
    // The same fill in the new chain is a signal again (the kept one is on another token).
    insert(&c, &[fill(102, 0, 1, 0, 2001, 10.0, 0.5)]).await;
    assert_eq!(signals(&c).await.len(), 3);
}

#[tokio::test]
async fn a_listening_client_is_notified_of_each_new_signal() {
    let (db, c) = setup().await;
    snapshot(&c, 3600.0, &[scored(1, 8.0)]).await;
    let (listener, mut conn) = tokio_postgres::connect(&db.url, NoTls).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = stream::poll_fn(move |cx| conn.poll_message(cx));
        while let Some(Ok(m)) = messages.next().await {
            if let AsyncMessage::Notification(n) = m {
                let _ = tx.send((n.channel().to_owned(), n.payload().to_owned()));
            }
        }
    });
    listener.batch_execute("LISTEN signals").await.unwrap();
    insert(
        &c,
        &[
            fill(100, 0, 1, 0, 1001, 10.0, 0.5),
            fill(100, 1, 1, 0, 2001, 10.0, 0.5),
        ],
    )
    .await;
    let ids: Vec<String> =
        strings(&c, "SELECT signal_id::text FROM signals ORDER BY signal_id").await;
    assert_eq!(ids.len(), 2);
    for id in ids {
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
            .await
            .expect("a notification within 5 s")
            .unwrap();
        assert_eq!(got, ("signals".to_owned(), id));
    }
}

#[tokio::test]
async fn fills_copied_in_bulk_fire_the_trigger_too() {
    let (_db, c) = setup().await;
    snapshot(&c, 3600.0, &[scored(1, 8.0)]).await;
    let now: String = c.query_one("SELECT now()::text", &[]).await.unwrap().get(0);
    // The indexer's direct path COPYs into the partitioned table.
    let sink = c
        .copy_in(
            "COPY chain.order_filled (block_number, log_index, tx_hash, block_time, contract, version, order_hash,
                                      maker, taker, side, token_id, maker_amount, taker_amount, fee) FROM STDIN",
        )
        .await
        .unwrap();
    let line = format!(
        "100\t0\t\\\\x01\t{now}\t\\\\x{}\t2\t\\\\x02\t\\\\x{:040x}\t\\\\x{}\t0\t1001\t5000000\t10000000\t0\n",
        &EXCHANGE_V2[2..],
        1,
        &EXCHANGE_V2[2..]
    );
    futures::pin_mut!(sink);
    use futures::SinkExt;
    sink.send(bytes::Bytes::from(line)).await.unwrap();
    sink.finish().await.unwrap();
    assert_eq!(signals(&c).await, vec![sig("FOLLOW", 1, 1001, None)]);
}

#[tokio::test]
async fn why_signal_explains_a_fade() {
    let (_db, c) = setup().await;
    snapshot(
        &c,
        3600.0,
        &(11..=15).map(|n| scored(n, 1.5)).collect::<Vec<_>>(),
    )
    .await;
    insert(
        &c,
        &(0..5)
            .map(|i| fill(100, i, 11 + i as u32, 1, 1001, 10.0, 0.3))
            .collect::<Vec<_>>(),
    )
    .await;
    let id: i64 = c
        .query_one("SELECT signal_id FROM signals", &[])
        .await
        .unwrap()
        .get(0);
    // psql substitutes :id; the test does the same and runs the file's statements.
    let text = std::fs::read_to_string(common::repo().join("sql/why_signal.sql")).unwrap();
    let sql: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('\\'))
        .collect::<Vec<_>>()
        .join("\n")
        .replace(":id", &id.to_string());
    let msgs = c.simple_query(&sql).await.unwrap();
    let rows: Vec<Vec<Option<String>>> = msgs
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
            }
            _ => None,
        })
        .collect();
    let all: String = rows
        .iter()
        .flatten()
        .flatten()
        .cloned()
        .collect::<Vec<_>>()
        .join("|");
    // The signal, its fill, the wallet's snapshot row and the five panic sellers.
    assert!(all.contains("FADE"), "{all}");
    for n in 11..=15 {
        assert!(all.contains(&hex(n)), "seller {n} missing: {all}");
    }
    assert!(all.contains("0.300000"), "{all}");
    assert!(all.contains("1.5"), "{all}");
}

#[tokio::test]
async fn on_a_simulated_world_follow_finds_skilled_wallets_and_fade_finds_retail_panics() {
    use orderflow::sim::{Role, SimConfig};
    let (db, truth) = common::sim_db(SimConfig {
        seed: 7,
        blocks: 20_000,
        ..SimConfig::default()
    })
    .await;
    let c = db.client().await;
    // The simulated chain is months old: its backfill made no signal.
    assert_eq!(
        common::scalar_i64(&c, "SELECT count(*) FROM signals").await,
        0
    );
    // Replay it as a backtest would: scores snapshotted every 1000 blocks, then every block's
    // fills through make_signals with that block's time as "now". FOLLOW keeps its defaults;
    // this world's panics are small (a few retail sellers), so FADE is set for it as an analyst
    // would.
    c.batch_execute(
        "UPDATE strategy.parameters SET value = 3.5 WHERE name = 'fade_max';
         UPDATE strategy.parameters SET value = 3 WHERE name = 'panic_min';",
    )
    .await
    .unwrap();
    // Snapshots as of blocks 84006000, 84007000, … 84019000; fills of the blocks after the first.
    orderflow::backtest::replay::replay_signals(&c, 84_006_001, 84_019_999, 1000)
        .await
        .unwrap();
    let role: std::collections::HashMap<String, Role> = truth
        .wallets
        .iter()
        .map(|w| (orderflow::chain::hex::encode(&w.address), w.role))
        .collect();
    let rows = c
        .query(
            "SELECT v.action, v.wallet_address, flow.payout(s.condition_id, s.outcome_index)::float8, s.price::float8
             FROM strategy.signals s JOIN signals v USING (signal_id)",
            &[],
        )
        .await
        .unwrap();
    let (mut follow, mut follow_skilled, mut fade, mut fade_retail) = (0, 0, 0, 0);
    let mut followed_roles = std::collections::BTreeMap::<String, usize>::new();
    let (mut follow_won, mut follow_resolved, mut follow_edge) = (0.0, 0, 0.0);
    for r in &rows {
        let who = role.get(&r.get::<_, String>(1)).copied();
        match r.get::<_, String>(0).as_str() {
            "FOLLOW" => {
                follow += 1;
                follow_skilled += usize::from(who == Some(Role::Skilled));
                *followed_roles.entry(format!("{who:?}")).or_insert(0) += 1;
                if let Some(pay) = r.get::<_, Option<f64>>(2) {
                    follow_resolved += 1;
                    follow_won += pay;
                    follow_edge += pay - r.get::<_, f64>(3);
                }
            }
            _ => {
                fade += 1;
                fade_retail += usize::from(who == Some(Role::Retail));
            }
        }
    }
    eprintln!(
        "FOLLOW {follow} ({follow_skilled} by skilled wallets; of {follow_resolved} resolved, {:.0}% won, \
         mean payout - price {:.3}; by role {followed_roles:?}); FADE {fade} ({fade_retail} triggered by retail wallets)",
        100.0 * follow_won / follow_resolved as f64,
        follow_edge / follow_resolved as f64
    );
    assert!(follow >= 100, "{follow} FOLLOW signals");
    assert!(
        follow_skilled as f64 >= 0.9 * follow as f64,
        "{follow_skilled} of {follow} skilled"
    );
    assert!(
        follow_edge > 0.0,
        "following skilled buys should pay on this world"
    );
    assert!(fade >= 10, "{fade} FADE signals");
    assert!(
        fade_retail as f64 >= 0.9 * fade as f64,
        "{fade_retail} of {fade} FADEs triggered by retail panic sellers"
    );
}
