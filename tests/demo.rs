//! `orderflow demo` end to end on a small world: Postgres, anvil, the indexer and executor as
//! processes, signals and paper trades during the live part, and everything stopped at the end.

mod common;

use std::process::Command;

use orderflow::bench::with_dbname;

#[test]
fn demo_runs_the_services_and_trades_on_paper() {
    let out = std::env::temp_dir().join(format!("orderflow-demo-test-{}", std::process::id()));
    let database = common::unique_db_name();
    let admin = common::admin_url();
    let run = Command::new(env!("CARGO_BIN_EXE_orderflow"))
        .env("DATABASE_URL", &admin)
        .args([
            "demo",
            "--blocks",
            "12000",
            "--live-blocks",
            "1500",
            "--pace-ms",
            "10",
            "--database",
            &database,
            "--out",
        ])
        .arg(&out)
        .output()
        .expect("run orderflow demo");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    println!("{stdout}\n{stderr}");
    assert!(run.status.success(), "demo failed: {stderr}");

    let count = |pattern: &str| stdout.lines().filter(|l| l.contains(pattern)).count();
    let signals = count("  signal #");
    let placed = count("paper BUY");
    println!("live signals printed: {signals}, paper buys printed: {placed}");
    assert!(signals > 0, "no signal fired during the live part");
    assert!(placed > 0, "the executor placed no paper order");
    assert!(
        stdout.contains("executor stopped (exit 0)"),
        "executor did not stop cleanly"
    );
    assert!(
        stdout.contains("indexer stopped (exit 0)"),
        "indexer did not stop cleanly"
    );
    for log in ["indexer.log", "executor.log"] {
        assert!(out.join(log).is_file(), "{log} missing");
    }

    // What the feed printed is what the database holds.
    let url = with_dbname(&admin, &database);
    let psql = |sql: &str| {
        let o = Command::new("psql")
            .args([&url, "-XAtc", sql])
            .output()
            .expect("psql");
        String::from_utf8_lossy(&o.stdout).trim().to_owned()
    };
    assert_eq!(psql("SELECT count(*) FROM signals"), signals.to_string());
    let db_placed: usize =
        psql("SELECT count(*) FROM executor_decisions WHERE kind = 'entry' AND outcome = 'placed'")
            .parse()
            .unwrap();
    assert_eq!(db_placed, placed);
    // The backtest of the history wrote its report and left no snapshot or signal behind.
    assert!(stdout.contains("verdict: "), "no backtest verdict");
    for f in ["report.md", "equity.svg", "trades.csv"] {
        assert!(
            out.join("backtest").join(f).is_file(),
            "backtest/{f} missing"
        );
    }
    assert_eq!(
        psql("SELECT count(*) FROM flow.score_snapshots WHERE reason = 'backtest'"),
        "0"
    );
    // anvil is stopped: its port no longer answers.
    let anvil = stdout
        .split("anvil at http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("the demo names anvil's address");
    assert!(
        std::net::TcpStream::connect(anvil).is_err(),
        "anvil at {anvil} still answers"
    );
    let _ = Command::new("psql")
        .args([
            &admin,
            "-Xqc",
            &format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"),
        ])
        .output();
    let _ = std::fs::remove_dir_all(&out);
}
