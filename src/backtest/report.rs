//! The Markdown report of a backtest and the files written with it.
//!
//! Every sentence that judges the strategy is computed from the intervals: the verdict reads
//! the total-return difference against each baseline, so no one can type a conclusion the
//! numbers do not support. Undefined numbers print as "n/a", never as NaN.

use std::{
    collections::BTreeMap,
    fmt::Write,
    path::{Path, PathBuf},
};

use super::{
    chart,
    stats::{Estimate, Evaluation, Interval, Metric, RunStats, Significance},
    utc_date, BacktestError, Exit, RunResult, BASELINES,
};

/// Below this many markets the report warns that a market bootstrap has too few clusters to
/// estimate its own spread, and its intervals are too narrow.
pub const FEW_MARKETS: usize = 20;

/// Paths of the files [`write`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFiles {
    /// `report.md`.
    pub report: PathBuf,
    /// `equity.svg`, embedded by the report.
    pub chart: PathBuf,
    /// `trades.csv`: every trade of every run.
    pub trades: PathBuf,
}

/// Writes `report.md`, `equity.svg` and `trades.csv` into `dir` (created if missing).
pub fn write(
    dir: &Path,
    main: &RunResult,
    baselines: &[RunResult],
    stats: &Evaluation,
    params: &[(String, String)],
) -> Result<ReportFiles, BacktestError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| BacktestError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let files = ReportFiles {
        report: dir.join("report.md"),
        chart: dir.join("equity.svg"),
        trades: dir.join("trades.csv"),
    };
    let runs: Vec<RunResult> = std::iter::once(main).chain(baselines).cloned().collect();
    std::fs::write(&files.chart, chart::svg(&runs)).map_err(io(&files.chart))?;
    std::fs::write(&files.trades, trades_csv(&runs)).map_err(io(&files.trades))?;
    let md = markdown(main, baselines, stats, params, "equity.svg");
    std::fs::write(&files.report, md).map_err(io(&files.report))?;
    Ok(files)
}

/// The report: verdict, chart, metrics with intervals, paired differences, trades by action
/// and exit, parameters and the method. `chart_file` is the chart's path relative to the
/// report; `params` are the strategy's parameters as name/value pairs, printed as given.
pub fn markdown(
    main: &RunResult,
    baselines: &[RunResult],
    stats: &Evaluation,
    params: &[(String, String)],
    chart_file: &str,
) -> String {
    let mut md = String::new();
    let conf = percent_label(stats.config.confidence);
    let _ = writeln!(md, "# Backtest: {}\n", cell(&main.strategy));
    let _ = writeln!(md, "**Verdict:** {}\n", verdict(stats));
    let _ = writeln!(md, "{}\n", own_return(&stats.strategy, &conf));
    let _ = writeln!(
        md,
        "Period {} to {} (UTC), starting capital {} USDC; {} trades in {} markets.\n",
        utc_date(main.from),
        utc_date(main.to),
        amount(main.capital, 2),
        main.trades.len(),
        stats.strategy.markets,
    );
    for caveat in caveats(stats, baselines) {
        let _ = writeln!(md, "> {caveat}\n");
    }
    let _ = writeln!(md, "![equity and drawdown]({chart_file})\n");

    let _ = writeln!(md, "## Metrics\n");
    let _ = writeln!(
        md,
        "{conf} confidence intervals in brackets: percentile bootstrap over markets, {} \
         resamples, seed {}.\n",
        stats.config.n_resamples, stats.config.seed
    );
    let runs: Vec<&RunStats> = std::iter::once(&stats.strategy)
        .chain(&stats.baselines)
        .collect();
    let _ = write!(
        md,
        "| metric | {} (strategy) |",
        cell(&stats.strategy.strategy)
    );
    for b in &stats.baselines {
        let _ = write!(md, " {} |", cell(&b.strategy));
    }
    let _ = writeln!(md, "\n|---|{}", "---:|".repeat(runs.len()));
    for metric in Metric::ALL {
        let _ = write!(md, "| {} |", metric.name());
        for r in &runs {
            let _ = write!(md, " {} |", estimate(r.get(metric)));
        }
        md.push('\n');
    }

    let _ = writeln!(md, "\n## Against the baselines\n");
    if stats.comparisons.is_empty() {
        let _ = writeln!(md, "No baselines were run.");
    } else {
        let _ = writeln!(
            md,
            "Strategy minus baseline. Each resample draws markets from those either run traded \
             and applies the same draw to both runs, so what they share cancels. Significant: \
             the {conf} interval lies entirely on the better side of zero (above zero; below \
             zero for drawdowns).\n"
        );
        let _ = writeln!(
            md,
            "| baseline | metric | difference | {conf} CI | significant |\n|---|---|---:|---:|---|"
        );
        for c in &stats.comparisons {
            for d in &c.differences {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} |",
                    cell(&c.baseline),
                    d.metric.name(),
                    difference(d.metric, d.point),
                    d.ci.map_or("n/a".into(), |ci| interval(d.metric, ci, true)),
                    match d.significance {
                        _ if d.metric.better().is_none() => "—",
                        Significance::Better => "yes, better",
                        Significance::Worse => "yes, worse",
                        Significance::Inconclusive => "no",
                        Significance::Unavailable => "n/a",
                    }
                );
            }
        }
    }

    let _ = writeln!(md, "\n## Trades by action and exit\n");
    let _ = write!(md, "| run | action |");
    for exit in Exit::ALL {
        let _ = write!(md, " {exit} |");
    }
    let _ = writeln!(md, " total | pnl (USDC) |\n|---|---|{}", "---:|".repeat(5));
    for run in std::iter::once(main).chain(baselines) {
        let mut by_action: BTreeMap<&str, ([usize; 3], f64)> = BTreeMap::new();
        for t in &run.trades {
            let row = by_action.entry(t.action.as_str()).or_default();
            row.0[Exit::ALL.iter().position(|&e| e == t.exit).unwrap_or(0)] += 1;
            row.1 += t.pnl;
        }
        if by_action.is_empty() {
            let _ = writeln!(
                md,
                "| {} | (none) | 0 | 0 | 0 | 0 | 0.00 |",
                cell(&run.strategy)
            );
        }
        for (action, (counts, pnl)) in by_action {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} |",
                cell(&run.strategy),
                cell(action),
                counts[0],
                counts[1],
                counts[2],
                counts.iter().sum::<usize>(),
                amount(pnl, 2),
            );
        }
    }

    let _ = writeln!(md, "\n## Parameters\n");
    if params.is_empty() {
        let _ = writeln!(md, "None given.");
    } else {
        let _ = writeln!(md, "| parameter | value |\n|---|---|");
        for (name, value) in params {
            let _ = writeln!(md, "| {} | {} |", cell(name), cell(value));
        }
    }

    let _ = writeln!(
        md,
        "\n## Method\n\n\
         - Equity: capital plus realised pnl, stepping at each close (trades closing in the same \
         second together); the daily series is the equity at the end of each UTC day of the \
         period, days without closes included.\n\
         - Total return: sum of pnl over starting capital. Win rate: share of trades with pnl \
         above zero.\n\
         - Sharpe: mean over sample standard deviation of daily returns (each day's equity over \
         the previous day's, minus one), times sqrt(365) since markets trade every day; n/a \
         with fewer than two days, zero variance, or equity at zero.\n\
         - Max drawdown: largest fall below the running peak (starting at the capital), as a \
         fraction of that peak, on the end-of-day equity and on the equity after every close.\n\
         - Intervals: markets are drawn with replacement, as many as the run traded, keeping \
         every trade of a drawn market at its time (trades of one market are not independent); \
         every metric is recomputed on the rebuilt curve. Sharpe and drawdown depend on the order \
         of the path, which resampling reshuffles: their intervals are rougher than those of \
         totals and averages and need not contain the run's own value. An interval is n/a \
         with fewer than {} markets or when the metric is undefined in most resamples.",
        super::stats::MIN_MARKETS
    );
    md
}

/// One sentence judging the strategy against every baseline by the total-return difference.
pub fn verdict(stats: &Evaluation) -> String {
    if stats.comparisons.is_empty() {
        return "no baselines were run, so there is nothing to judge the strategy against.".into();
    }
    let by = |s: Significance| -> Vec<&str> {
        stats
            .comparisons
            .iter()
            .filter(|c| c.get(Metric::TotalReturn).significance == s)
            .map(|c| c.baseline.as_str())
            .collect()
    };
    let (better, worse, none, unknown) = (
        by(Significance::Better),
        by(Significance::Worse),
        by(Significance::Inconclusive),
        by(Significance::Unavailable),
    );
    if better.len() == stats.comparisons.len() {
        return format!(
            "beats all baselines ({}) with the total-return difference CI above zero.",
            list(&better)
        );
    }
    let mut parts = Vec::new();
    if !none.is_empty() {
        parts.push(format!(
            "no significant edge over {} (total-return difference CI includes zero)",
            list(&none)
        ));
    }
    if !worse.is_empty() {
        parts.push(format!(
            "significantly worse than {} (total-return difference CI below zero)",
            list(&worse)
        ));
    }
    if !better.is_empty() {
        parts.push(format!(
            "beats {} (total-return difference CI above zero)",
            list(&better)
        ));
    }
    if !unknown.is_empty() {
        parts.push(format!(
            "cannot be judged against {} (fewer than {} markets between them)",
            list(&unknown),
            super::stats::MIN_MARKETS
        ));
    }
    format!("{}.", parts.join("; "))
}

/// A plain-text table for a terminal: each run's main metrics with their intervals, and each
/// baseline's total-return difference (strategy minus baseline) with its interval.
pub fn text_summary(stats: &Evaluation) -> String {
    let conf = percent_label(stats.config.confidence);
    let mut rows = vec![[
        "run".to_owned(),
        "trades".to_owned(),
        "markets".to_owned(),
        format!("total return [{conf} CI]"),
        "Sharpe".to_owned(),
        // At each close rather than daily: a run shorter than a few days has no daily drawdown
        // to speak of.
        "max drawdown at closes".to_owned(),
        "win rate".to_owned(),
        format!("strategy minus run [{conf} CI]"),
    ]];
    let runs = std::iter::once((&stats.strategy, None)).chain(
        stats
            .baselines
            .iter()
            .zip(stats.comparisons.iter().map(Some)),
    );
    for (r, cmp) in runs {
        let m = &r.metrics;
        rows.push([
            r.strategy.clone(),
            m.trades.to_string(),
            r.markets.to_string(),
            estimate(r.get(Metric::TotalReturn)),
            value(Metric::Sharpe, m.sharpe),
            value(Metric::MaxDrawdownIntraday, Some(m.max_drawdown_intraday)),
            value(Metric::WinRate, m.win_rate),
            cmp.map_or("".into(), |c| {
                let d = c.get(Metric::TotalReturn);
                format!(
                    "{} {}{}",
                    difference(d.metric, d.point),
                    d.ci.map_or("[n/a]".into(), |ci| interval(d.metric, ci, true)),
                    if d.significance == Significance::Better {
                        " *"
                    } else {
                        ""
                    }
                )
            }),
        ]);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    let _ = writeln!(
        out,
        "* the interval of the difference lies above zero ({} market-bootstrap resamples, seed {})",
        stats.config.n_resamples, stats.config.seed
    );
    out
}

fn own_return(run: &RunStats, conf: &str) -> String {
    let e = run.get(Metric::TotalReturn);
    let side = match e.ci {
        Some(ci) if ci.lo > 0.0 => "above zero",
        Some(ci) if ci.hi < 0.0 => "below zero",
        Some(_) => "includes zero",
        None => "cannot be estimated",
    };
    format!(
        "Total return {}, {conf} CI {} ({side}).",
        value(Metric::TotalReturn, e.point),
        e.ci.map_or("n/a".into(), |ci| interval(Metric::TotalReturn, ci, false)),
    )
}

fn caveats(stats: &Evaluation, baselines: &[RunResult]) -> Vec<String> {
    let mut out = Vec::new();
    let markets = stats.strategy.markets;
    if markets < FEW_MARKETS {
        out.push(format!(
            "Only {markets} markets: a bootstrap over so few clusters understates the spread; \
             read the intervals as too narrow."
        ));
    }
    let missing: Vec<&str> = BASELINES
        .iter()
        .copied()
        .filter(|name| !baselines.iter().any(|b| b.strategy == *name))
        .collect();
    if !missing.is_empty() {
        out.push(format!("Baselines not run: {}.", list(&missing)));
    }
    out
}

fn list(names: &[&str]) -> String {
    names.iter().map(|n| cell(n)).collect::<Vec<_>>().join(", ")
}

/// Text safe in a table cell and in running Markdown text.
fn cell(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace(['\n', '\r'], " ")
}

fn estimate(e: &Estimate) -> String {
    match (e.point, e.ci) {
        (None, _) => "n/a".into(),
        (Some(_), ci) => format!(
            "{} {}",
            value(e.metric, e.point),
            ci.map_or("[n/a]".into(), |ci| interval(e.metric, ci, false))
        ),
    }
}

/// A metric's value in its unit: percent for fractions, two decimals for ratios and USDC.
fn value(metric: Metric, v: Option<f64>) -> String {
    let Some(v) = v.filter(|v| v.is_finite()) else {
        return "n/a".into();
    };
    match metric {
        Metric::TotalReturn
        | Metric::MaxDrawdown
        | Metric::MaxDrawdownIntraday
        | Metric::WinRate => {
            format!("{}%", fixed(v * 100.0, 2, false))
        }
        Metric::Sharpe => fixed(v, 2, false),
        Metric::Trades => fixed(v, 0, false),
        Metric::AvgProfit => amount(v, 2),
    }
}

/// A difference, signed; fractions in percentage points.
fn difference(metric: Metric, v: Option<f64>) -> String {
    let Some(v) = v.filter(|v| v.is_finite()) else {
        return "n/a".into();
    };
    match metric {
        Metric::TotalReturn
        | Metric::MaxDrawdown
        | Metric::MaxDrawdownIntraday
        | Metric::WinRate => {
            format!("{} pp", fixed(v * 100.0, 2, true))
        }
        Metric::Sharpe | Metric::AvgProfit => fixed(v, 2, true),
        Metric::Trades => fixed(v, 0, true),
    }
}

fn interval(metric: Metric, ci: Interval, signed: bool) -> String {
    let f = |v| {
        if signed {
            difference(metric, Some(v))
        } else {
            value(metric, Some(v))
        }
    };
    format!("[{}, {}]", f(ci.lo), f(ci.hi))
}

/// `v` with `decimals` decimals, "-0.00" printed as "0.00", a "+" on positives if `signed`.
fn fixed(v: f64, decimals: usize, signed: bool) -> String {
    let s = format!("{v:.decimals$}");
    let zero = !s.chars().any(|c| c.is_ascii_digit() && c != '0');
    match s.strip_prefix('-') {
        Some(abs) if zero => abs.to_string(),
        Some(_) => s,
        None if signed && !zero => format!("+{s}"),
        None => s,
    }
}

/// An amount with thousands separators.
fn amount(v: f64, decimals: usize) -> String {
    let s = fixed(v, decimals, false);
    let (sign, rest) = s.strip_prefix('-').map_or(("", s.as_str()), |r| ("-", r));
    let (int, frac) = rest.split_once('.').unwrap_or((rest, ""));
    let mut grouped = String::new();
    for (k, c) in int.chars().enumerate() {
        if k > 0 && (int.len() - k) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{frac}")
    }
}

/// 0.95 as "95%", 0.975 as "97.5%".
fn percent_label(confidence: f64) -> String {
    let s = format!("{:.1}", confidence * 100.0);
    format!("{}%", s.strip_suffix(".0").unwrap_or(&s))
}

fn trades_csv(runs: &[RunResult]) -> String {
    let mut csv =
        String::from("strategy,market_id,token_id,action,opened_at,closed_at,cost,pnl,exit\n");
    for run in runs {
        for t in &run.trades {
            let _ = writeln!(
                csv,
                "{},{},{},{},{},{},{},{},{:?}",
                csv_field(&run.strategy),
                csv_field(&t.market_id),
                csv_field(&t.token_id),
                csv_field(&t.action),
                t.opened_at,
                t.closed_at,
                t.cost,
                t.pnl,
                t.exit
            );
        }
    }
    csv
}

/// RFC 4180: quoted when it holds a comma, quote or line break, quotes doubled.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backtest::{
        chart::tests::assert_well_formed,
        stats::{evaluate, BootstrapConfig},
        tests::{hand_run, trade, T0},
        DAY,
    };

    /// `markets` markets over 30 days, one trade each of `edge ± 20` USDC.
    fn run(name: &str, markets: usize, edge: f64, seed: u64) -> RunResult {
        use rand::{rngs::StdRng, Rng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(seed);
        RunResult {
            strategy: name.into(),
            capital: 10_000.0,
            from: T0,
            to: T0 + 30 * DAY - 1,
            trades: (0..markets)
                .map(|m| {
                    let mut t = trade(
                        &format!("0x{m:04x}"),
                        T0 + rng.gen_range(0..30 * DAY),
                        edge + rng.gen_range(-20.0..20.0),
                    );
                    t.strategy = name.into();
                    if m % 3 == 0 {
                        t.action = "FADE".into();
                        t.exit = Exit::StopLoss;
                    }
                    t
                })
                .collect(),
        }
    }

    fn config() -> BootstrapConfig {
        BootstrapConfig {
            n_resamples: 500,
            ..Default::default()
        }
    }

    fn params() -> Vec<(String, String)> {
        vec![
            ("min_score".into(), "7".into()),
            ("stop_loss".into(), "0.3".into()),
        ]
    }

    #[test]
    fn a_real_edge_beats_every_baseline() {
        let main = run("follow skilled", 150, 6.0, 1);
        let baselines: Vec<RunResult> = BASELINES
            .iter()
            .enumerate()
            .map(|(i, name)| run(name, 150, 0.0, 10 + i as u64))
            .collect();
        let stats = evaluate(&main, &baselines, &config()).unwrap();
        let md = markdown(&main, &baselines, &stats, &params(), "equity.svg");
        assert!(
            md.contains(
                "**Verdict:** beats all baselines (follow random wallets, opposite of each \
                 signal, buy everything) with the total-return difference CI above zero."
            ),
            "{md}"
        );
        assert!(md.contains("![equity and drawdown](equity.svg)"));
        assert!(md.contains(
            "| metric | follow skilled (strategy) | follow random wallets | opposite of each \
             signal | buy everything |"
        ));
        for metric in Metric::ALL {
            assert_eq!(md.matches(&format!("| {} |", metric.name())).count(), 4);
        }
        assert!(md.contains("| buy everything | total return | +"));
        assert!(md.contains("| yes, better |"));
        // 150 markets, every third FADE with a stop loss: 50 and 100.
        assert!(md.contains("| follow skilled | FADE | 0 | 50 | 0 | 50 |"));
        assert!(md.contains("| follow skilled | FOLLOW | 100 | 0 | 0 | 100 |"));
        assert!(md.contains("| stop_loss | 0.3 |"));
        assert!(!md.contains("Baselines not run") && !md.contains("Only "));
        assert!(!md.to_lowercase().contains("nan") && !md.contains("inf"));
    }

    #[test]
    fn no_edge_is_called_no_edge() {
        let main = run("s", 150, 0.0, 1);
        let baselines = vec![run("buy everything", 150, 0.0, 2), run("x", 150, 6.0, 3)];
        let stats = evaluate(&main, &baselines, &config()).unwrap();
        assert_eq!(
            verdict(&stats),
            "no significant edge over buy everything (total-return difference CI includes \
             zero); significantly worse than x (total-return difference CI below zero)."
        );
        let md = markdown(&main, &baselines, &stats, &[], "equity.svg");
        assert!(md.contains("Baselines not run: follow random wallets, opposite of each signal."));
        assert!(md.contains("None given."));
    }

    #[test]
    fn the_hand_run_prints_exact_numbers() {
        let main = hand_run();
        let stats = evaluate(&main, &[], &config()).unwrap();
        let md = markdown(&main, &[], &stats, &params(), "chart.svg");
        assert!(md.contains("**Verdict:** no baselines were run"));
        assert!(md.contains("Period 2023-11-14 to 2023-11-17 (UTC), starting capital 1,000.00"));
        assert!(md.contains("> Only 3 markets"));
        let row = |name: &str| {
            md.lines()
                .find(|l| l.starts_with(&format!("| {name} |")))
                .unwrap_or_else(|| panic!("no row {name}"))
                .to_string()
        };
        assert!(row("total return").starts_with("| total return | -8.00% ["));
        assert!(row("win rate").starts_with("| win rate | 50.00% ["));
        assert!(row("average profit per trade (USDC)").contains("| -20.00 ["));
        assert!(row("max drawdown (daily)").contains("| 14.29% ["));
        assert!(row("max drawdown (at each close)").contains("| 18.18% ["));
        assert!(row("Sharpe (daily, annualised)").contains("| -3.93 ["));
    }

    #[test]
    fn edge_cases_print_na_not_nan() {
        let mut empty = hand_run();
        empty.trades.clear();
        let mut one = hand_run();
        one.strategy = "buy everything".into();
        one.trades.retain(|t| t.market_id == "m1");
        let stats = evaluate(&empty, &[one.clone()], &config()).unwrap();
        let md = markdown(&empty, &[one], &stats, &[], "equity.svg");
        assert!(md.contains(
            "**Verdict:** cannot be judged against buy everything (fewer than 2 markets between \
             them)."
        ));
        assert!(md.contains("| win rate | n/a | 50.00% [n/a] |"), "{md}");
        assert!(md.contains("| hand | (none) | 0 |"));
        assert!(md.contains("Total return 0.00%, 95% CI n/a (cannot be estimated)."));
        assert!(!md.to_lowercase().contains("nan") && !md.contains("inf"));
    }

    #[test]
    fn writes_the_three_files() {
        let dir = std::env::temp_dir().join(format!("orderflow-report-{}", std::process::id()));
        let mut main = hand_run();
        main.trades[0].action = "FOLLOW, \"big\"".into();
        let mut baseline = hand_run();
        baseline.strategy = "buy everything".into();
        let stats = evaluate(&main, &[baseline.clone()], &config()).unwrap();
        let files = write(&dir, &main, &[baseline], &stats, &params()).unwrap();
        assert_eq!(files.report, dir.join("report.md"));
        let md = std::fs::read_to_string(&files.report).unwrap();
        assert!(md.contains("![equity and drawdown](equity.svg)"));
        assert_well_formed(&std::fs::read_to_string(&files.chart).unwrap());
        let csv = std::fs::read_to_string(&files.trades).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 1 + 8);
        assert_eq!(
            lines[1],
            format!(
                "hand,m2,m2-yes,\"FOLLOW, \"\"big\"\"\",{},{},100,-50,Resolution",
                T0 + 11 * 3600,
                T0 + 12 * 3600
            )
        );
        std::fs::remove_dir_all(&dir).unwrap();
        // A file where the folder should be: the error names the path.
        let blocker = std::env::temp_dir().join(format!("orderflow-block-{}", std::process::id()));
        std::fs::write(&blocker, "").unwrap();
        let err = write(&blocker.join("sub"), &main, &[], &stats, &[]).unwrap_err();
        assert!(err.to_string().contains("orderflow-block-"), "{err}");
        std::fs::remove_file(&blocker).unwrap();
    }

    #[test]
    fn formats() {
        assert_eq!(fixed(-0.001, 2, true), "0.00");
        assert_eq!(fixed(0.126, 2, true), "+0.13");
        assert_eq!(amount(-1_234_567.891, 2), "-1,234,567.89");
        assert_eq!(amount(999.0, 0), "999");
        assert_eq!(percent_label(0.975), "97.5%");
        assert_eq!(cell("a|b\nc<d"), "a\\|b c&lt;d");
        assert_eq!(value(Metric::Sharpe, Some(f64::NAN)), "n/a");
        assert_eq!(difference(Metric::WinRate, Some(0.05)), "+5.00 pp");
    }
}
