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
