//! `orderflow`: the admin CLI.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use orderflow::{
    bench,
    cli::{DbArgs, LogArgs},
    db, telemetry,
};

/// Admin commands for orderflow: schema, benchmarks.
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
    /// Apply migrations, then functions/ and views/ from disk, in one transaction. Idempotent.
    Migrate {
        /// Folder holding functions/ and views/ (default: the current folder if it has them,
        /// else the source tree).
        #[arg(long, env = "ORDERFLOW_SQL_DIR")]
        sql_dir: Option<PathBuf>,
    },
    /// Re-apply functions/ and views/ only (after an analyst's edit).
    #[command(name = "sql-reload")]
    SqlReload {
        /// Folder holding functions/ and views/.
        #[arg(long, env = "ORDERFLOW_SQL_DIR")]
        sql_dir: Option<PathBuf>,
    },
    /// Benchmarks that print their numbers.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    telemetry::exit_on_error(rt.block_on(run(cli)))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    telemetry::init(cli.log.log_json);
    match cli.command {
        Command::Migrate { sql_dir } => {
            let sql = db::SqlDir::locate(sql_dir.as_deref());
            let mut client = db::connect(&cli.db.database_url).await?;
            let r = db::migrate(&mut client, &sql).await?;
            println!(
                "migrated: {} new migration(s){}; {} repeatable SQL file(s) applied from {}",
                r.applied.len(),
                if r.applied.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", r.applied.join(", "))
                },
                r.repeatable_files,
                sql.0.display()
            );
        }
        Command::SqlReload { sql_dir } => {
            let sql = db::SqlDir::locate(sql_dir.as_deref());
            let mut client = db::connect(&cli.db.database_url).await?;
            let tx = client.transaction().await?;
            let n = sql.apply(&tx).await?;
            tx.commit().await?;
            println!(
                "reloaded {n} repeatable SQL file(s) from {}",
                sql.0.display()
            );
        }
        Command::Bench(b) => bench::run(b, &cli.db.database_url).await?,
    }
    Ok(())
}
