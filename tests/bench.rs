//! `orderflow bench signals` at a tiny size: it must print both latencies and must have
//! measured real signals and decisions, not an empty run.

mod common;

use std::process::Command;

/// The first number after `label` on the line starting with it.
fn number_after(out: &str, label: &str) -> f64 {
    let line = out
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no line starting with {label:?} in:\n{out}"));
    line[label.len()..]
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .find(|w| !w.is_empty())
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no number after {label:?} in {line:?}"))
}

#[test]
fn bench_signals_measures_both_latencies_over_real_signals() {
    let name = common::unique_db_name();
    eprintln!("scratch database {name}");
    let out = Command::new(env!("CARGO_BIN_EXE_orderflow"))
        .args([
            "bench",
            "signals",
            "--blocks",
            "3",
            "--fills-per-block",
            "50",
            "--history-blocks",
            "10",
            "--block-seconds",
            "0.5",
            "--markets",
            "10",
            "--wallets",
            "100",
            "--skilled-share",
            "0.3",
            "--unskilled-share",
            "0.3",
            "--db-name",
            &name,
        ])
        .env("DATABASE_URL", common::admin_url())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{stdout}");

    assert!(number_after(&stdout, "signals:") > 0.0, "{stdout}");
    assert!(number_after(&stdout, "decisions:") > 0.0, "{stdout}");
    for label in ["fills-to-signal-row: min", "NOTIFY-to-decision: min"] {
        // min / median / p99 / max, all measured and positive.
        let line = stdout.lines().find(|l| l.starts_with(label)).unwrap();
        let ms: Vec<f64> = line
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        assert!(ms.len() >= 4 && ms[..4].iter().all(|&m| m > 0.0), "{line}");
        assert!(ms[0] <= ms[1] && ms[1] <= ms[2] && ms[2] <= ms[3], "{line}");
    }
    // The slowest blocks, each whole: its wall time is the sum of its parts.
    let slow: Vec<&str> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("slow block "))
        .collect();
    assert_eq!(slow.len(), 3, "{stdout}");
    let max: f64 = {
        let line = stdout
            .lines()
            .find(|l| l.starts_with("fills-to-signal-row: min"))
            .unwrap();
        line.split(" / max ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let mut previous = max;
    for line in slow {
        let (total, parts) = line.split_once(" ms = ").unwrap();
        let total: f64 = total.rsplit(' ').next().unwrap().parse().unwrap();
        let parts: Vec<f64> = parts
            .split(" + ")
            .map(|p| p.split_whitespace().find_map(|w| w.parse().ok()).unwrap())
            .collect();
        assert_eq!(parts.len(), 5, "{line}");
        assert!((parts.iter().sum::<f64>() - total).abs() < 0.05, "{line}");
        // Slowest first, the first being the printed max; the parts timed inside the
        // transaction and the COMMIT are durations.
        assert!(total <= previous, "{line}\n{stdout}");
        assert!(parts[..4].iter().all(|&p| p >= 0.0), "{line}");
        previous = total;
    }
    assert!(
        (stdout
            .lines()
            .find(|l| l.trim_start().starts_with("slow block "))
            .unwrap())
        .contains(&format!(": {max:.2} ms = ")),
        "{stdout}"
    );
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.starts_with("verdict: "))
            .count(),
        2,
        "{stdout}"
    );
    // The scratch database is dropped afterwards.
    let left: i64 = tokio::runtime::Runtime::new().unwrap().block_on(async {
        orderflow::db::connect(&common::admin_url())
            .await
            .unwrap()
            .query_one(
                "SELECT count(*) FROM pg_database WHERE datname = $1",
                &[&name],
            )
            .await
            .unwrap()
            .get(0)
    });
    assert_eq!(left, 0, "scratch database {name} was left behind");
}
