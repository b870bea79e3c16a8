//! On a simulated world the score recovers the planted skill.

mod common;

use common::{sim_db, strings, TestDb};
use orderflow::sim::{Role, SimConfig};

fn ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|a, b| x[*a].total_cmp(&x[*b]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        // Ties share their mean rank.
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        for k in i..=j {
            r[idx[k]] = (i + j) as f64 / 2.0;
        }
        i = j + 1;
    }
    r
}

fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let (ra, rb) = (ranks(a), ranks(b));
    let n = ra.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let cov: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = ra.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = rb.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

#[tokio::test]
async fn the_score_recovers_planted_skill_on_a_simulated_world() {
    let (db, truth) = sim_db(SimConfig {
        seed: 7,
        blocks: 20_000,
        ..SimConfig::default()
    })
    .await;
    let c = db.client().await;
    // Each snapshot, when it is the newest, starts the signal trigger's kept panic sells for
    // itself at the first block of its block's panic window: every taker sell from there on by
    // a wallet it scores at most fade_max, market makers and wash traders left out. (One in
    // the middle of the history, where retail still panics, then the one at the head.)
    for (take, least_counted) in [
        ("SELECT flow.take_score_snapshot((SELECT (min(block_number) + max(block_number)) / 2 FROM chain.order_filled))", 51),
        ("REFRESH MATERIALIZED VIEW wallet_stats; SELECT flow.take_score_snapshot()", 0),
    ] {
        c.batch_execute(take).await.unwrap();
        let cover = c
            .query_one(
                "WITH counted AS (
                     SELECT o.token_id, o.block_number, o.log_index, o.block_time, o.maker
                     FROM chain.order_filled o, strategy.panic_cover k
                     JOIN flow.wallet_scores w ON w.snapshot_id = k.snapshot_id
                     WHERE w.wallet = o.maker AND o.block_number >= k.from_block
                       AND o.side = 1 AND o.taker = o.contract
                       AND w.score <= strategy.param('fade_max')
                       AND NOT w.is_market_maker AND NOT w.is_wash_trader)
                 SELECT k.snapshot_id = (SELECT max(snapshot_id) FROM flow.score_snapshots),
                        k.from_block = strategy.panic_from_block(s.as_of_block, s.as_of_time),
                        (SELECT count(*) FROM counted),
                        (SELECT count(*) FROM strategy.panic_sells),
                        (SELECT count(*) FROM (SELECT * FROM counted EXCEPT
                                               SELECT token_id, block_number, log_index, block_time, wallet
                                               FROM strategy.panic_sells) d)
                 FROM strategy.panic_cover k JOIN flow.score_snapshots s USING (snapshot_id)",
                &[],
            )
            .await
            .unwrap();
        let (own, window, counted, kept, missing): (bool, bool, i64, i64, i64) =
            (cover.get(0), cover.get(1), cover.get(2), cover.get(3), cover.get(4));
        assert!(own && window, "{take}: the cover is the new snapshot's, from its window");
        assert_eq!((kept, missing), (counted, 0), "{take}: the counted sells are kept");
        assert!(counted >= least_counted, "{take}: the window holds unskilled sells: {counted}");
    }
    let rows = c
        .query(
            "SELECT wallet_address, score::float8, resolved_positions::int8 FROM wallet_scores_now",
            &[],
        )
        .await
        .unwrap();
    let skill: std::collections::HashMap<String, (f64, Role)> = truth
        .wallets
        .iter()
        .map(|w| (orderflow::chain::hex::encode(&w.address), (w.skill, w.role)))
        .collect();
    // Among wallets with 20+ resolved positions (market makers included), rank correlation of
    // score and hidden skill.
    let mut scored: Vec<(f64, f64, Role)> = rows
        .iter()
        .filter(|r| r.get::<_, i64>(2) >= 20)
        .filter_map(|r| {
            let (s, role) = skill.get(&r.get::<_, String>(0))?;
            Some((r.get::<_, f64>(1), *s, *role))
        })
        .collect();
    let (scores, skills): (Vec<f64>, Vec<f64>) = scored.iter().map(|(a, b, _)| (*a, *b)).unzip();
    let rho = spearman(&scores, &skills);
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let decile = (scored.len() / 10).max(1);
    let skilled_top = scored[..decile]
        .iter()
        .filter(|(_, _, role)| *role == Role::Skilled)
        .count() as f64
        / decile as f64;
    eprintln!(
        "wallets with 20+ resolved positions: {}; Spearman(score, skill) = {rho:.3}; top decile ({decile}) truly skilled: {:.0}%",
        scored.len(),
        skilled_top * 100.0
    );
    // Market-maker labels: exactly the planted market makers.
    let flagged: Vec<String> = strings(
        &c,
        "SELECT wallet_address FROM wallet_stats WHERE is_market_maker",
    )
    .await;
    let planted = truth
        .wallets
        .iter()
        .filter(|w| w.role == Role::MarketMaker)
        .count();
    eprintln!(
        "market makers flagged: {} of {planted} planted",
        flagged.len()
    );
    assert_eq!(flagged.len(), planted);
    assert!(flagged.iter().all(|w| skill
        .get(w)
        .is_some_and(|(_, role)| *role == Role::MarketMaker)));
    assert!(
        scored.len() >= 30,
        "too few scored wallets: {}",
        scored.len()
    );
    assert!(rho >= 0.7, "Spearman {rho:.3} < 0.7");
    assert!(
        skilled_top >= 0.8,
        "top decile {skilled_top:.2} < 0.8 skilled"
    );
}

/// Every column of one snapshot, in a stable order, as text.
async fn snapshot_rows(c: &tokio_postgres::Client, id: i64) -> Vec<String> {
    c.query(
        "SELECT w::text FROM flow.wallet_scores w WHERE snapshot_id = $1 ORDER BY wallet",
        &[&id],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| {
        // The snapshot id differs between snapshots; everything after it must not.
        let row: String = r.get(0);
        row.split_once(',').unwrap().1.to_owned()
    })
    .collect()
}

#[tokio::test]
async fn a_snapshot_never_sees_what_happened_after_its_block() {
    let (db, _) = sim_db(SimConfig {
        seed: 11,
        blocks: 8_000,
        ..SimConfig::default()
    })
    .await;
    let c = db.client().await;
    // The cut: the block by which half of the resolutions have happened.
    let cut = common::scalar_i64(
        &c,
        "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY block_number) FROM chain.condition_resolution",
    )
    .await;
    let take = |block: i64| {
        let c = &c;
        async move {
            c.query_one("SELECT flow.take_score_snapshot($1, 'backtest')", &[&block])
                .await
                .unwrap()
                .get::<_, i64>(0)
        }
    };
    let before = take(cut).await;
    let rows = snapshot_rows(&c, before).await;
    let later = |sql: &str| sql.replace("CUT", &cut.to_string());
    let resolved_later = common::scalar_i64(
        &c,
        &later("SELECT count(*) FROM chain.condition_resolution WHERE block_number > CUT"),
    )
    .await;
    let fills_later = common::scalar_i64(
        &c,
        &later("SELECT count(*) FROM chain.order_filled WHERE block_number > CUT"),
    )
    .await;
    eprintln!(
        "cut at block {cut}: {} wallets scored; afterwards {resolved_later} resolutions, {fills_later} fills",
        rows.len()
    );
    assert!(rows.len() > 100 && resolved_later > 10 && fills_later > 1_000);

    // Rewrite the future: every later outcome flipped, every later fill gone (positions refold).
    c.batch_execute(&later(
        "UPDATE chain.condition_resolution
         SET payout_numerators = ARRAY(SELECT x FROM unnest(payout_numerators) WITH ORDINALITY u(x, o) ORDER BY o DESC)
         WHERE block_number > CUT;
         DELETE FROM chain.order_filled WHERE block_number > CUT;",
    ))
    .await
    .unwrap();
    let again = snapshot_rows(&c, take(cut).await).await;
    let differing: Vec<(&String, &String)> =
        rows.iter().zip(&again).filter(|(a, b)| a != b).collect();
    assert!(
        again.len() == rows.len() && differing.is_empty(),
        "the snapshot at block {cut} changed when only later blocks changed: {} rows then {}, {} differ, first {:?}",
        rows.len(),
        again.len(),
        differing.len(),
        differing.first()
    );

    // The same edit to one outcome resolved before the cut does change it (the check can fail).
    c.batch_execute(&later(
        "UPDATE chain.condition_resolution
         SET payout_numerators = ARRAY(SELECT x FROM unnest(payout_numerators) WITH ORDINALITY u(x, o) ORDER BY o DESC)
         WHERE (block_number, log_index) = (SELECT block_number, log_index FROM chain.condition_resolution
                                            WHERE block_number <= CUT ORDER BY block_number DESC LIMIT 1)",
    ))
    .await
    .unwrap();
    let changed = take(cut).await;
    assert_ne!(snapshot_rows(&c, changed).await, rows);

    // Backtests look snapshots up by time: the one at the cut is what was known then.
    let at_cut = common::scalar_i64(
        &c,
        &later("SELECT flow.snapshot_at((SELECT max(block_time) FROM chain.blocks WHERE block_number <= CUT))"),
    )
    .await;
    assert_eq!(at_cut, changed);
}

#[tokio::test]
async fn the_indexer_schedule_takes_snapshots_by_blocks() {
    let db = TestDb::new().await;
    let c = db.client().await;
    let blocks = |from: i64, to: i64| {
        format!(
            "INSERT INTO chain.blocks (block_number, block_time)
             SELECT b, timestamptz '2026-06-01' + b * interval '2 seconds' FROM generate_series({from}, {to}) b"
        )
    };
    c.batch_execute(&blocks(1, 10)).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(orderflow::scores::run_refresher(
        db.url.clone(),
        std::time::Duration::from_millis(100),
        async {
            let _ = stopped.await;
        },
    ));
    let scheduled = |n: i64| {
        let c = &c;
        async move {
            for _ in 0..100 {
                let got = common::scalar_i64(
                    c,
                    "SELECT count(*) FROM flow.score_snapshots WHERE reason = 'schedule'",
                )
                .await;
                if got >= n {
                    return got;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            common::scalar_i64(
                c,
                "SELECT count(*) FROM flow.score_snapshots WHERE reason = 'schedule'",
            )
            .await
        }
    };
    // The first check finds no snapshot yet: one is due at once.
    assert_eq!(scheduled(1).await, 1);
    // 299 new blocks are not enough (score_refresh_blocks = 300, and ten minutes have not passed).
    c.batch_execute(&blocks(11, 309)).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(scheduled(1).await, 1);
    // One more block is.
    c.batch_execute(&blocks(310, 310)).await.unwrap();
    assert_eq!(scheduled(2).await, 2);
    let last = common::scalar_i64(&c, "SELECT max(as_of_block) FROM flow.score_snapshots").await;
    assert_eq!(last, 310);
    stop.send(()).unwrap();
    task.await.unwrap();
}
