//! `orderflow backtest` on simulated worlds: it finds planted skill, finds nothing where there
//! is none, and never decides on what happened later.

mod common;

use common::{scalar_i64, sim_db, TestDb};
use orderflow::{
    backtest::{
        cli::{backtest, BacktestArgs, Outcome},
        report,
        stats::{Metric, Significance},
    },
    sim::SimConfig,
};

fn args() -> BacktestArgs {
    BacktestArgs {
        from: None,
        to: None,
        capital: 1000.into(),
        latency_seconds: 5,
        slippage: None,
        fee_rate: None,
        fee_exponent: None,
        snapshot_blocks: None,
        seed: 7,
        resamples: 2000,
        out: std::env::temp_dir(),
    }
}

async fn run(db: &TestDb, args: &BacktestArgs) -> Outcome {
    let started = std::time::Instant::now();
    let out = backtest(&mut db.client().await, args).await.unwrap();
    eprintln!(
        "blocks {} to {}: {} fills, {} snapshots, {} signals; {:.1}s\n{}verdict: {}\nstrategy decisions: {:?}",
        out.period.from_block,
        out.period.to_block,
        out.fills,
        out.replayed.snapshots,
        out.replayed.signals,
        started.elapsed().as_secs_f64(),
        report::text_summary(&out.evaluation),
        report::verdict(&out.evaluation),
        out.strategy.tally(),
    );
    out
}

/// Nothing a backtest made stays behind.
async fn assert_untouched(db: &TestDb) {
    let c = db.client().await;
    assert_eq!(
        scalar_i64(&c, "SELECT count(*) FROM strategy.signals").await,
        0
    );
    assert_eq!(
        scalar_i64(&c, "SELECT count(*) FROM flow.score_snapshots").await,
        0
    );
}

/// Many short markets: a market bootstrap needs hundreds of markets to tell edges apart, and
/// the import stays near 400k fills.
fn world(seed: u64, no_skill: bool) -> SimConfig {
    SimConfig {
        seed,
        markets: 500,
        blocks: 3_000,
        no_skill,
        ..SimConfig::default()
    }
}

/// Limits for this world, as an analyst would set them: its whole history is under two hours,
/// so the daily loss limit would halt the run for good after the first bad hour; its prices
/// jump by 8-20 cents on news, so a 15% stop sells most positions before they resolve; and
/// many small positions (0.3% each, up to 500) spread the run over enough markets to measure.
async fn settings_for_a_short_world(db: &TestDb) {
    db.client()
        .await
        .batch_execute(
            "UPDATE strategy.parameters SET value = CASE name
                 WHEN 'max_open_positions' THEN 500 WHEN 'max_position_fraction' THEN 0.003
                 WHEN 'max_deployed_fraction' THEN 1 WHEN 'stop_loss' THEN 1 WHEN 'daily_loss_limit' THEN 1
                 ELSE value END",
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn with_planted_skill_the_strategy_beats_every_baseline() {
    let (db, _) = sim_db(world(7, false)).await;
    settings_for_a_short_world(&db).await;
    let out = run(&db, &args()).await;
    assert_untouched(&db).await;
    assert!(out.strategy.result.trades.len() >= 20);
    for c in &out.evaluation.comparisons {
        let d = c.get(Metric::TotalReturn);
        assert_eq!(
            d.significance,
            Significance::Better,
            "against {}: difference {:?}, CI {:?}",
            c.baseline,
            d.point,
            d.ci
        );
    }
}

#[tokio::test]
async fn without_skill_there_is_no_significant_edge() {
    let (db, _) = sim_db(world(7, true)).await;
    settings_for_a_short_world(&db).await;
    let out = run(&db, &args()).await;
    assert_untouched(&db).await;
    assert!(out.strategy.result.trades.len() >= 20);
    let own = out.evaluation.strategy.get(Metric::TotalReturn);
    assert!(
        own.ci.is_some_and(|ci| ci.lo <= 0.0),
        "the strategy's own return is significantly positive: {own:?}"
    );
    for c in &out.evaluation.comparisons {
        let d = c.get(Metric::TotalReturn);
        assert!(
            d.ci.is_some_and(|ci| ci.contains(0.0)),
            "a false discovery against {}: difference {:?}, CI {:?}",
            c.baseline,
            d.point,
            d.ci
        );
    }
}

#[tokio::test]
async fn rewriting_the_future_changes_no_earlier_decision() {
    let (db, _) = sim_db(SimConfig {
        seed: 11,
        blocks: 8_000,
        ..SimConfig::default()
    })
    .await;
    let before = run(&db, &args()).await;
    let c = db.client().await;
    let cut = scalar_i64(
        &c,
        "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY block_number) FROM chain.condition_resolution",
    )
    .await;
    let cut_time = scalar_i64(
        &c,
        &format!("SELECT extract(epoch FROM max(block_time))::int8 FROM chain.blocks WHERE block_number <= {cut}"),
    )
    .await;
    // Every later outcome flipped, every later fill gone.
    c.batch_execute(&format!(
        "UPDATE chain.condition_resolution
         SET payout_numerators = ARRAY(SELECT x FROM unnest(payout_numerators) WITH ORDINALITY u(x, o) ORDER BY o DESC)
         WHERE block_number > {cut};
         DELETE FROM chain.order_filled WHERE block_number > {cut};"
    ))
    .await
    .unwrap();
    let after = run(&db, &args()).await;
    for (name, a, b) in std::iter::once(("strategy", &before.strategy, &after.strategy)).chain(
        before
            .baselines
            .iter()
            .zip(&after.baselines)
            .map(|(a, b)| (a.result.strategy.as_str(), a, b)),
    ) {
        let early = |r: &orderflow::backtest::engine::Run| {
            let decisions: Vec<_> = r
                .decisions
                .iter()
                .filter(|d| d.at <= cut_time)
                .cloned()
                .collect();
            let trades: Vec<_> = r
                .result
                .trades
                .iter()
                .filter(|t| t.closed_at <= cut_time)
                .cloned()
                .collect();
            (decisions, trades)
        };
        let (da, ta) = early(a);
        let (db_, tb) = early(b);
        eprintln!(
            "{name}: {} decisions and {} closed trades by the cut (block {cut}); {} and {} in all before the rewrite, {} and {} after",
            da.len(),
            ta.len(),
            a.decisions.len(),
            a.result.trades.len(),
            b.decisions.len(),
            b.result.trades.len()
        );
        assert!(da.len() >= 5, "{name}: too few decisions before the cut");
        assert_eq!(da, db_, "{name}: a decision before the cut changed");
        assert_eq!(ta, tb, "{name}: a trade closed before the cut changed");
        // The rewrite did change what came later, so the comparison could have failed.
        assert_ne!(
            a.decisions, b.decisions,
            "{name}: nothing changed after the cut"
        );
    }
}
