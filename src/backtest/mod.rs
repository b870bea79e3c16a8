//! Backtest results: what turns the replay engine's closed trades into honest numbers.
//!
//! The engine hands over one [`RunResult`] per strategy (the strategy under test and its
//! baselines). From the trades alone this layer derives the equity curve, the metrics
//! ([`stats::Metrics`]), market-clustered bootstrap confidence intervals and paired
//! comparisons against each baseline ([`stats::evaluate`]), an SVG chart ([`chart::svg`]) and
//! a Markdown report whose verdict is computed from those intervals ([`report::markdown`],
//! [`report::write`]). Nothing here touches the database.
//!
//! The equity curve is derived, never stored: capital plus cumulative realised pnl, stepping
//! at each `closed_at`; the daily series has one point per UTC day from `from` to `to`
//! inclusive (days without closes have zero pnl).
//!
//! The runs themselves come from [`engine`] (the executor's sizing, limits, slippage and fees
//! over a tape of stored fills) fed by [`replay`] (the period replayed through point-in-time
//! score snapshots and the live signal function); [`cli`] is `orderflow backtest`.

pub mod chart;
pub mod cli;
pub mod engine;
pub mod replay;
pub mod report;
pub mod stats;

use std::{collections::BTreeSet, fmt};

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use report::ReportFiles;
pub use stats::{evaluate, BootstrapConfig, Evaluation, Metric, Metrics};

/// Seconds in a UTC day (Unix time has no leap seconds).
pub const DAY: i64 = 86_400;

/// Longest run accepted, in days: longer spans are a unit mistake (milliseconds for seconds).
pub const MAX_DAYS: i64 = 36_600;

/// Names of the baselines every report is expected to carry; a report names the ones missing.
pub const BASELINES: [&str; 3] = [
    "follow random wallets",
    "opposite of each signal",
    "buy everything",
];

/// Errors of a backtest.
#[derive(Debug, Error)]
pub enum BacktestError {
    /// Reading or replaying the period failed.
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    /// The executor's parameters could not be read.
    #[error(transparent)]
    Exec(#[from] crate::exec::ExecError),
    /// The period or the settings asked for cannot be backtested.
    #[error("cannot backtest: {reason}")]
    Period {
        /// What is wrong, with the offending values and the fix.
        reason: String,
    },
    /// A run handed over by the engine is inconsistent; nothing is computed from it.
    #[error("run {strategy:?} is not valid: {reason}; fix the engine's output before reporting")]
    InvalidRun {
        /// The run's strategy name.
        strategy: String,
        /// What is wrong, with the offending values.
        reason: String,
    },
    /// The bootstrap settings cannot produce an interval.
    #[error("bad bootstrap settings: {reason}")]
    BadConfig {
        /// What is wrong, with the offending value.
        reason: String,
    },
    /// Writing a report file failed.
    #[error("writing {path}: {source}; check that the folder is writable and the disk not full")]
    Io {
        /// The file or folder.
        path: String,
        /// What the operating system said.
        source: std::io::Error,
    },
}

impl BacktestError {
    /// Whether trying again unchanged may succeed: only interrupted or timed-out writes.
    pub fn is_retryable(&self) -> bool {
        match self {
            BacktestError::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::Interrupted
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::WouldBlock
            ),
            BacktestError::Db(e) => e.is_retryable(),
            BacktestError::Exec(e) => e.is_retryable(),
            BacktestError::InvalidRun { .. }
            | BacktestError::BadConfig { .. }
            | BacktestError::Period { .. } => false,
        }
    }
}

/// How a position ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Exit {
    /// Held until the market resolved and redeemed (or expired worthless).
    Resolution,
    /// Sold when the stop loss triggered.
    StopLoss,
    /// Still open when the run ended; marked at the last price at `to`.
    End,
}

impl Exit {
    /// Every exit kind, in report order.
    pub const ALL: [Exit; 3] = [Exit::Resolution, Exit::StopLoss, Exit::End];
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Exit::Resolution => "resolution",
            Exit::StopLoss => "stop loss",
            Exit::End => "end",
        })
    }
}

/// One position of a run, opened and closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClosedTrade {
    /// Strategy that took it.
    pub strategy: String,
    /// Market (condition id, hex); the bootstrap's cluster.
    pub market_id: String,
    /// Outcome token bought or sold.
    pub token_id: String,
    /// Signal that opened it: FOLLOW, FADE, …
    pub action: String,
    /// Opening time, Unix seconds.
    pub opened_at: i64,
    /// Closing time, Unix seconds; the pnl is realised then.
    pub closed_at: i64,
    /// USDC paid, fees included.
    pub cost: f64,
    /// Realised profit or loss, USDC.
    pub pnl: f64,
    /// How it closed.
    pub exit: Exit,
}

/// One strategy's run over a period, as the replay engine hands it over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Strategy name, shown in the chart legend and the report.
    pub strategy: String,
    /// Starting capital, USDC.
    pub capital: f64,
    /// Start of the run, Unix seconds.
    pub from: i64,
    /// End of the run, Unix seconds (inclusive).
    pub to: i64,
    /// Every position, closed within `[from, to]`.
    pub trades: Vec<ClosedTrade>,
}

/// Equity at the end of one UTC day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DailyPoint {
    /// Midnight UTC starting the day, Unix seconds.
    pub day: i64,
    /// Pnl realised that day, USDC.
    pub pnl: f64,
    /// Equity at the end of the day, USDC.
    pub equity: f64,
}

impl RunResult {
    /// Checks what every computation relies on: positive finite capital, `from <= to` within
    /// [`MAX_DAYS`], finite cost and pnl, and every trade closing within `[from, to]` after it
    /// opened.
    pub fn validate(&self) -> Result<(), BacktestError> {
        let bad = |reason: String| {
            Err(BacktestError::InvalidRun {
                strategy: self.strategy.clone(),
                reason,
            })
        };
        if !(self.capital.is_finite() && self.capital > 0.0) {
            return bad(format!("capital {} is not a positive number", self.capital));
        }
        if self.from > self.to {
            return bad(format!("from {} is after to {}", self.from, self.to));
        }
        let days = utc_day(self.to) - utc_day(self.from) + 1;
        if days > MAX_DAYS {
            return bad(format!(
                "{days} days from {} to {}: times must be Unix seconds",
                self.from, self.to
            ));
        }
        for (i, t) in self.trades.iter().enumerate() {
            if !t.pnl.is_finite() || !t.cost.is_finite() {
                return bad(format!(
                    "trade {i} in market {} has cost {} and pnl {}",
                    t.market_id, t.cost, t.pnl
                ));
            }
            if t.closed_at < self.from || t.closed_at > self.to {
                return bad(format!(
                    "trade {i} in market {} closes at {}, outside [{}, {}]",
                    t.market_id, t.closed_at, self.from, self.to
                ));
            }
            if t.opened_at > t.closed_at {
                return bad(format!(
                    "trade {i} in market {} opens at {} after it closes at {}",
                    t.market_id, t.opened_at, t.closed_at
                ));
            }
        }
        Ok(())
    }

    /// Distinct markets traded, sorted.
    pub fn markets(&self) -> BTreeSet<&str> {
        self.trades.iter().map(|t| t.market_id.as_str()).collect()
    }

    /// Equity after each distinct closing time, starting with `(from, capital)`. Trades closing
    /// in the same second settle together, so the curve does not depend on their order.
    pub fn equity_at_closes(&self) -> Vec<(i64, f64)> {
        let curve = stats::Prepared::new(self).curve();
        let mut points = Vec::with_capacity(curve.closes.len() + 1);
        points.push((self.from, self.capital));
        points.extend(curve.closes);
        points
    }

    /// One point per UTC day from `from` to `to` inclusive.
    pub fn daily(&self) -> Vec<DailyPoint> {
        let curve = stats::Prepared::new(self).curve();
        let first = utc_day(self.from);
        let mut previous = self.capital;
        curve
            .daily_equity
            .iter()
            .enumerate()
            .map(|(i, &equity)| {
                let point = DailyPoint {
                    day: (first + i as i64) * DAY,
                    pnl: equity - previous,
                    equity,
                };
                previous = equity;
                point
            })
            .collect()
    }
}

/// Days since 1970-01-01 of a Unix time, counted in UTC.
pub fn utc_day(t: i64) -> i64 {
    t.div_euclid(DAY)
}

/// `YYYY-MM-DD` of a Unix time in UTC.
pub fn utc_date(t: i64) -> String {
    let (y, m, d) = civil_from_days(utc_day(t));
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DD HH:MM` of a Unix time in UTC.
pub fn utc_minute(t: i64) -> String {
    let s = t.rem_euclid(DAY);
    format!("{} {:02}:{:02}", utc_date(t), s / 3600, s % 3600 / 60)
}

/// Proleptic Gregorian date of a day count (Howard Hinnant's algorithm): no date crate is
/// needed for a label.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Day count of a proleptic Gregorian date, the inverse of [`civil_from_days`].
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// 2023-11-14 00:00:00 UTC.
    pub const T0: i64 = 1_699_920_000;

    pub fn trade(market: &str, closed_at: i64, pnl: f64) -> ClosedTrade {
        ClosedTrade {
            strategy: "s".into(),
            market_id: market.into(),
            token_id: format!("{market}-yes"),
            action: "FOLLOW".into(),
            opened_at: closed_at - 3600,
            closed_at,
            cost: 100.0,
            pnl,
            exit: Exit::Resolution,
        }
    }

    /// Capital 1000 over four days; the hand-computed example of the metrics test.
    pub fn hand_run() -> RunResult {
        RunResult {
            strategy: "hand".into(),
            capital: 1000.0,
            from: T0,
            to: T0 + 4 * DAY - 1,
            trades: vec![
                trade("m2", T0 + 12 * 3600, -50.0),
                trade("m1", T0 + 10 * 3600, 100.0),
                trade("m1", T0 + DAY + 5, -150.0),
                trade("m3", T0 + 3 * DAY + 7, 20.0),
            ],
        }
    }

    #[test]
    fn dates_in_utc() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(T0), "2023-11-14");
        assert_eq!(utc_date(T0 - 1), "2023-11-13");
        assert_eq!(utc_date(951_782_400), "2000-02-29");
        assert_eq!(utc_minute(T0 + 13 * 3600 + 5 * 60 + 59), "2023-11-14 13:05");
        assert_eq!(utc_date(-1), "1969-12-31");
        for z in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z, "{y}-{m}-{d}");
        }
        assert_eq!(days_from_civil(2023, 11, 14) * DAY, T0);
    }

    #[test]
    fn equity_is_derived_from_trades() {
        let run = hand_run();
        assert_eq!(
            run.equity_at_closes(),
            vec![
                (T0, 1000.0),
                (T0 + 10 * 3600, 1100.0),
                (T0 + 12 * 3600, 1050.0),
                (T0 + DAY + 5, 900.0),
                (T0 + 3 * DAY + 7, 920.0),
            ]
        );
        let daily = run.daily();
        let equity: Vec<f64> = daily.iter().map(|p| p.equity).collect();
        let pnl: Vec<f64> = daily.iter().map(|p| p.pnl).collect();
        assert_eq!(equity, vec![1050.0, 900.0, 900.0, 920.0]);
        assert_eq!(pnl, vec![50.0, -150.0, 0.0, 20.0]);
        assert_eq!(daily[3].day, T0 + 3 * DAY);
        assert_eq!(
            run.markets().into_iter().collect::<Vec<_>>(),
            ["m1", "m2", "m3"]
        );
    }

    #[test]
    fn same_second_closes_settle_together() {
        let mut run = hand_run();
        run.trades[0].closed_at = T0 + 10 * 3600;
        let closes = run.equity_at_closes();
        assert_eq!(closes[1], (T0 + 10 * 3600, 1050.0));
        assert_eq!(closes.len(), 4);
    }

    #[test]
    fn rejects_inconsistent_runs() {
        let reason = |run: &RunResult| match run.validate() {
            Err(BacktestError::InvalidRun { reason, .. }) => reason,
            other => panic!("expected InvalidRun, got {other:?}"),
        };
        assert!(hand_run().validate().is_ok());
        let mut run = hand_run();
        run.capital = 0.0;
        assert!(reason(&run).contains("capital 0"));
        let mut run = hand_run();
        run.trades[2].pnl = f64::NAN;
        assert!(reason(&run).contains("trade 2 in market m1"));
        let mut run = hand_run();
        run.trades[3].closed_at = run.to + 1;
        assert!(reason(&run).contains("outside"));
        let mut run = hand_run();
        run.trades[1].opened_at = run.trades[1].closed_at + 1;
        assert!(reason(&run).contains("after it closes"));
        let mut run = hand_run();
        run.to = run.from * 1000;
        assert!(reason(&run).contains("Unix seconds"));
        let mut run = hand_run();
        run.to = run.from - 1;
        assert!(reason(&run).contains("is after to"));
        assert!(!BacktestError::BadConfig { reason: "x".into() }.is_retryable());
    }
}
