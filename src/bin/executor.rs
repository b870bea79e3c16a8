//! `executor`: trades the signals (paper by default).

use std::time::Duration;

use clap::Parser;
use orderflow::{
    cli::{DbArgs, LogArgs},
    exec::{self, live::LiveArgs, Mode},
    telemetry,
};

/// Trades FOLLOW/FADE signals: wakes on NOTIFY signals (and polls), sizes each with fractional
/// Kelly, checks the risk limits in one locked transaction, and fills on paper at the chain's
/// recent trades, or (--mode live) signs each order, stores it, and only then posts it to the
/// Polymarket CLOB, booking its fills from the indexed chain. Every decision lands in
/// exec.decisions (view executor_decisions); every number comes from strategy.parameters.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(flatten)]
    db: DbArgs,
    #[command(flatten)]
    log: LogArgs,
    /// paper: simulated fills at recent on-chain trades; live: orders on the Polymarket CLOB
    /// (needs a private key and CLOB API credentials).
    #[arg(long, env = "ORDERFLOW_EXECUTOR_MODE", value_enum, default_value_t = Mode::Paper)]
    mode: Mode,
    /// The account traded (a row of exec.accounts, created on first start; default: the
    /// mode's name, "paper" or "live").
    #[arg(long, env = "ORDERFLOW_EXECUTOR_ACCOUNT")]
    account: Option<String>,
    /// Milliseconds between looks for signals without a notification (and between position
    /// checks: marks, resolutions, stop-losses).
    #[arg(long, env = "ORDERFLOW_EXECUTOR_POLL_MS", default_value_t = 1_000,
          value_parser = clap::value_parser!(u64).range(10..))]
    poll_ms: u64,
    /// Live mode (read only with --mode live).
    #[command(flatten)]
    live: LiveArgs,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    telemetry::exit_on_error(rt.block_on(run(cli)))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    telemetry::init(cli.log.log_json);
    let live = match cli.mode {
        Mode::Live => Some(cli.live.config()?),
        Mode::Paper => None,
    };
    let config = exec::Config {
        database_url: cli.db.database_url,
        mode: cli.mode,
        account: cli.account.unwrap_or_else(|| cli.mode.as_str().to_owned()),
        poll_interval: Duration::from_millis(cli.poll_ms),
        live,
    };
    let summary = exec::run(config, telemetry::shutdown_signal()).await?;
    println!("{summary}");
    Ok(())
}
