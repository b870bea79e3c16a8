//! `orderflow backtest`: the strategy and its baselines over a stored period, with the report.
//!
//! One REPEATABLE READ transaction reads a consistent picture of the database, replays the
//! period through score snapshots and `strategy.make_signals`, reads the signals and the tape
//! back, and is rolled back: the snapshots and signals it made are gone, and no NOTIFY is sent
//! (notifications go out only at commit). What stays: the id sequences of snapshots and
//! signals have advanced. While it runs it holds the snapshot table's lock (taken by
//! `flow.take_score_snapshot`), so a live indexer's scheduled snapshot or reorg unwind waits
//! for it to finish; signals of the period already decided by the executor are hidden from the
//! replay inside the transaction (they would pre-empt the replayed ones), undecided ones are
//! left alone for the executor to claim.

use std::path::PathBuf;

use clap::Args;
use rust_decimal::Decimal;
use tokio_postgres::{Client, IsolationLevel};

use super::{
    engine::{self, ExecModel, Intent, Run},
    replay::{self, Period, Replayed},
    report, stats, BacktestError, BootstrapConfig, Evaluation, BASELINES,
};
use crate::{
    db::{self, DbError},
    exec::params::Params,
};

/// The strategy's name in the report.
pub const STRATEGY: &str = "signals (FOLLOW + FADE)";

/// Options of `orderflow backtest` (every flag has an `ORDERFLOW_BACKTEST_*` twin).
#[derive(Debug, Clone, Args)]
pub struct BacktestArgs {
    /// First block (digits) or time (e.g. 2026-04-07 or 2026-04-07T12:00:00Z) [default: the
    /// first indexed block].
    #[arg(long, env = "ORDERFLOW_BACKTEST_FROM")]
    pub from: Option<String>,
    /// Last block or time, inclusive [default: the last indexed block].
    #[arg(long, env = "ORDERFLOW_BACKTEST_TO")]
    pub to: Option<String>,
    /// Starting capital, USDC.
    #[arg(long, env = "ORDERFLOW_BACKTEST_CAPITAL", default_value = "1000")]
    pub capital: Decimal,
    /// Seconds from a signal's fill to the order (and from a stop-loss trigger to the sale).
    #[arg(long, env = "ORDERFLOW_BACKTEST_LATENCY_SECONDS", default_value_t = 5)]
    pub latency_seconds: i64,
    /// Relative price move against each order [default: strategy.parameters paper_slippage].
    #[arg(long, env = "ORDERFLOW_BACKTEST_SLIPPAGE")]
    pub slippage: Option<Decimal>,
    /// Taker fee rate r in shares x r x (p(1-p))^e [default: taker_fee_rate].
    #[arg(long, alias = "fee", env = "ORDERFLOW_BACKTEST_FEE_RATE")]
    pub fee_rate: Option<Decimal>,
    /// Taker fee exponent e [default: taker_fee_exponent].
    #[arg(long, env = "ORDERFLOW_BACKTEST_FEE_EXPONENT")]
    pub fee_exponent: Option<Decimal>,
    /// A score snapshot every this many blocks [default: score_refresh_blocks, as the live
    /// indexer takes them].
    #[arg(long, env = "ORDERFLOW_BACKTEST_SNAPSHOT_BLOCKS")]
    pub snapshot_blocks: Option<i64>,
    /// Seed of the bootstrap and of the random-wallet baseline.
    #[arg(long, env = "ORDERFLOW_BACKTEST_SEED", default_value_t = 7)]
    pub seed: u64,
    /// Bootstrap resamples.
    #[arg(long, env = "ORDERFLOW_BACKTEST_RESAMPLES", default_value_t = 2000)]
    pub resamples: usize,
    /// Folder for report.md, equity.svg and trades.csv.
    #[arg(
        long,
        env = "ORDERFLOW_BACKTEST_OUT",
        default_value = "backtest-report"
    )]
    pub out: PathBuf,
}

/// A finished backtest.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The period.
    pub period: Period,
    /// What the replay made (and rolled back).
    pub replayed: Replayed,
    /// Fills on the tape.
    pub fills: usize,
    /// The strategy's run.
    pub strategy: Run,
    /// The baselines' runs, in [`BASELINES`] order.
    pub baselines: Vec<Run>,
    /// Metrics, intervals and paired differences.
    pub evaluation: Evaluation,
    /// Settings and parameters, for the report.
    pub params: Vec<(String, String)>,
}

/// Runs a backtest on `client`'s database and leaves it as it was (see the module doc).
pub async fn backtest(client: &mut Client, args: &BacktestArgs) -> Result<Outcome, BacktestError> {
    if args.capital <= Decimal::ZERO || args.latency_seconds < 0 {
        return Err(BacktestError::Period {
            reason: format!(
                "capital {} and latency {} s: use a positive capital and a latency of 0 s or more",
                args.capital, args.latency_seconds
            ),
        });
    }
    let config = BootstrapConfig {
        n_resamples: args.resamples,
        seed: args.seed,
        ..BootstrapConfig::default()
    };
    config.validate()?;
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .start()
        .await
        .map_err(DbError::query("opening the backtest's transaction"))?;
    let period = replay::period(&tx, args.from.as_deref(), args.to.as_deref()).await?;
    let mut params = Params::load(&tx).await?;
    if let Some(s) = args.slippage {
        params.paper.slippage = s;
    }
    if let Some(r) = args.fee_rate {
        params.paper.fees.rate = r;
    }
    if let Some(e) = args.fee_exponent {
        params.paper.fees.exponent = e;
    }
    let row = tx
        .query_one(
            "SELECT strategy.param('score_refresh_blocks')::int8, strategy.param('signal_cooldown_seconds')::int8,
                    strategy.param('follow_confidence_min')",
            &[],
        )
        .await
        .map_err(DbError::query("reading score_refresh_blocks, signal_cooldown_seconds and follow_confidence_min"))?;
    let every = args.snapshot_blocks.unwrap_or(row.get(0));
    let (cooldown, follow_min): (i64, Decimal) = (row.get(1), row.get(2));
    tx.execute(
        "DELETE FROM strategy.signals WHERE block_number >= $1 AND status <> 'new'",
        &[&period.from_block],
    )
    .await
    .map_err(DbError::query("setting the period's decided signals aside"))?;
    let replayed = replay::replay_signals(&tx, period.from_block, period.to_block, every).await?;
    let signals = replay::signals(&tx, &period).await?;
    let tape = replay::tape(&tx, &period).await?;
    tx.rollback()
        .await
        .map_err(DbError::query("rolling the backtest's transaction back"))?;

    let model = ExecModel {
        params,
        latency_secs: args.latency_seconds,
        capital: args.capital,
    };
    let intents = replay::intents(&tape, &signals);
    let lookback = cooldown.max(60);
    let picks: [Vec<Intent>; 3] = [
        engine::random_wallets(&tape, &intents, lookback, args.seed, "RANDOM"),
        engine::opposite(&tape, &intents, "OPPOSITE"),
        engine::every_buy(&tape, follow_min, cooldown, "BUY"),
    ];
    let strategy = engine::run(&tape, &model, STRATEGY, &intents);
    let baselines: Vec<Run> = BASELINES
        .iter()
        .zip(&picks)
        .map(|(name, picks)| engine::run(&tape, &model, name, picks))
        .collect();
    let results: Vec<_> = baselines.iter().map(|b| b.result.clone()).collect();
    let evaluation = stats::evaluate(&strategy.result, &results, &config)?;
    let p = &model.params;
    let params = [
        ("blocks", format!("{} to {}", period.from_block, period.to_block)),
        ("fills on the tape", tape.ticks.len().to_string()),
        ("score snapshots", format!("{} (every {every} blocks)", replayed.snapshots)),
        ("signals that buy", intents.len().to_string()),
        ("latency_seconds", args.latency_seconds.to_string()),
        ("slippage", p.paper.slippage.to_string()),
        ("taker_fee_rate", p.paper.fees.rate.to_string()),
        ("taker_fee_exponent", p.paper.fees.exponent.to_string()),
        ("paper_price_window_seconds", p.paper.price_window_secs.to_string()),
        ("kelly_fraction", p.sizing.kelly_fraction.to_string()),
        ("max_position_fraction", p.sizing.max_position_fraction.to_string()),
        ("max_open_positions", p.limits.max_open_positions.to_string()),
        ("max_deployed_fraction", p.limits.max_deployed_fraction.to_string()),
        ("stop_loss", p.limits.stop_loss.to_string()),
        ("daily_loss_limit", p.limits.daily_loss_limit.to_string()),
        ("min_order_usdc", p.limits.min_order_usdc.to_string()),
        ("signal_ttl_seconds", p.limits.signal_ttl_secs.to_string()),
        (
            "baseline confidence",
            format!(
                "random wallets: one that bought in the {lookback} s up to each signal, at the signal's; opposite: each signal's; buy everything: {follow_min} (follow_confidence_min: a median of the period's signals would know the future), one buy per token per {cooldown} s"
            ),
        ),
        ("seed", args.seed.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    Ok(Outcome {
        period,
        replayed,
        fills: tape.ticks.len(),
        strategy,
        baselines,
        evaluation,
        params,
    })
}

/// `orderflow backtest`: runs, writes the report, prints the summary and where the report is.
pub async fn run(args: BacktestArgs, database_url: &str) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let mut client = db::connect(database_url).await?;
    let out = backtest(&mut client, &args).await?;
    let results: Vec<_> = out.baselines.iter().map(|b| b.result.clone()).collect();
    let files = report::write(
        &args.out,
        &out.strategy.result,
        &results,
        &out.evaluation,
        &out.params,
    )?;
    let p = &out.period;
    println!(
        "backtest of blocks {} to {} ({} to {} UTC), {} fills, capital {} USDC, latency {} s",
        p.from_block,
        p.to_block,
        super::utc_minute(p.from),
        super::utc_minute(p.to),
        out.fills,
        args.capital,
        args.latency_seconds
    );
    println!(
        "replayed {} blocks through strategy.make_signals with {} score snapshots: {} signals (rolled back)\n",
        out.replayed.blocks, out.replayed.snapshots, out.replayed.signals
    );
    print!("{}", report::text_summary(&out.evaluation));
    println!(
        "\nverdict: {}\nreport: {} (chart {}, trades {}) in {:.1}s",
        report::verdict(&out.evaluation),
        files.report.display(),
        files.chart.display(),
        files.trades.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
