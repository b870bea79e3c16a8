//! The binaries as a user runs them.

mod common;

use std::{
    io::Write,
    process::{Command, Stdio},
};

use common::{fixture, TestDb};

#[tokio::test]
async fn indexer_imports_from_stdin_and_prints_a_summary() {
    let db = TestDb::new().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_indexer"))
        .args(["import", "-"])
        .env("DATABASE_URL", &db.url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = std::fs::read(fixture("mainnet_logs.jsonl")).unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let words = stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(words.contains("logs read 14 events stored 14"), "{stdout}");
    assert!(words.contains("order_filled 9"), "{stdout}");
}

#[test]
fn unreachable_database_is_one_clear_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_indexer"))
        .args(["import", "-"])
        .env(
            "DATABASE_URL",
            "postgres://someone:hunter2@127.0.0.1:1/nowhere",
        )
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.starts_with(
            "error: cannot connect to Postgres at postgres://someone:***@127.0.0.1:1/nowhere"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[test]
fn bad_contract_list_is_rejected_by_name() {
    let out = Command::new(env!("CARGO_BIN_EXE_indexer"))
        .args(["import", "-", "--contracts", "exchange_v9:0x00"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("unknown contract kind \"exchange_v9\""),
        "{stderr}"
    );
}

#[tokio::test]
async fn unreachable_rpc_is_one_clear_line_without_the_key() {
    let db = TestDb::new().await;
    let out = Command::new(env!("CARGO_BIN_EXE_indexer"))
        .args([
            "--rpc-url",
            "http://127.0.0.1:1/v2/SECRETKEY",
            "--to-block",
            "10",
        ])
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    let last = stderr.trim().lines().last().unwrap_or("");
    assert!(
        last.starts_with("error: cannot use the node at http://127.0.0.1:1/***"),
        "{stderr}"
    );
    assert!(!stderr.contains("SECRETKEY"), "{stderr}");
}

#[test]
fn indexer_without_a_source_says_what_to_give() {
    let out = Command::new(env!("CARGO_BIN_EXE_indexer"))
        .env_remove("ORDERFLOW_RPC_URL")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("--rpc-url") && stderr.contains("import"),
        "{stderr}"
    );
}

#[test]
fn sim_writes_the_same_jsonl_for_the_same_seed() {
    let run = |seed: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_orderflow"))
            .args([
                "sim",
                "--blocks",
                "400",
                "--markets",
                "6",
                "--wallets",
                "60",
                "--seed",
                seed,
                "--out",
                "-",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (out.stdout, String::from_utf8_lossy(&out.stderr).to_string())
    };
    let (a, summary) = run("3");
    let (b, _) = run("3");
    let (c, _) = run("4");
    assert_eq!(a, b);
    assert_ne!(a, c);
    let text = String::from_utf8(a).unwrap();
    let logs: Vec<_> = text
        .lines()
        .map(|l| orderflow::chain::RawLog::from_json(l).unwrap())
        .collect();
    assert!(logs.len() > 100);
    assert!(summary.contains("fills"), "{summary}");
}

#[test]
fn bad_sim_arguments_are_one_clear_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_orderflow"))
        .args(["sim", "--blocks", "0", "--out", "-"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.starts_with("error:") && stderr.contains("blocks"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}
