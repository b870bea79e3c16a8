//! `indexer`: streams Polymarket logs into Postgres.

use std::{
    io::{BufReader, IsTerminal},
    path::PathBuf,
};

use anyhow::Context;
use clap::{Parser, Subcommand};
use orderflow::{
    cli::{ContractArgs, DbArgs, LogArgs},
    db,
    ingest::{self, import::Progress, ImportOptions, Writer},
    telemetry,
};

/// Streams Polymarket exchange, CTF and NegRisk logs into Postgres, exactly once.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(flatten)]
    db: DbArgs,
    #[command(flatten)]
    log: LogArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Import a JSONL file of eth_getLogs-shaped logs (one object a line); `-` reads stdin.
    /// Re-importing the same file changes nothing.
    Import {
        /// The file, or `-` for stdin.
        file: PathBuf,
        /// Logs per batch; each batch is one transaction.
        #[arg(long, env = "ORDERFLOW_BATCH_SIZE", default_value_t = 20_000,
              value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        batch_size: u64,
        /// Never draw a progress bar (log lines instead).
        #[arg(long)]
        no_progress: bool,
        #[command(flatten)]
        contracts: ContractArgs,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    telemetry::exit_on_error(rt.block_on(run(cli)))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    telemetry::init(cli.log.log_json);
    match cli.command {
        Command::Import {
            file,
            batch_size,
            no_progress,
            contracts,
        } => {
            let opts = ImportOptions {
                batch_size: batch_size as usize,
                contracts: contracts.contracts(),
                progress: if !no_progress && std::io::stderr().is_terminal() {
                    Progress::Bar
                } else {
                    Progress::Log
                },
            };
            let client = db::connect(&cli.db.database_url).await?;
            let mut writer = Writer::new(client)
                .await
                .context("is the database migrated? run `orderflow migrate`")?;
            let shutdown = telemetry::shutdown_signal();
            let summary = if file.as_os_str() == "-" {
                let input = BufReader::with_capacity(1 << 20, std::io::stdin());
                ingest::import(input, "stdin", None, &mut writer, &opts, shutdown).await?
            } else {
                let f = std::fs::File::open(&file)
                    .with_context(|| format!("cannot open {}", file.display()))?;
                let size = f.metadata().ok().map(|m| m.len());
                let input = BufReader::with_capacity(1 << 20, f);
                ingest::import(
                    input,
                    &file.display().to_string(),
                    size,
                    &mut writer,
                    &opts,
                    shutdown,
                )
                .await?
            };
            println!("{summary}");
        }
    }
    Ok(())
}
