//! Metrics of a run, their bootstrap confidence intervals, and paired comparisons.
//!
//! Trades of one market are not independent (same resolution, same news, often the same
//! signal re-entering), so the bootstrap resamples **markets**, not trades: a resample draws as
//! many markets as the run traded, with replacement, keeps every trade of each drawn market (a
//! market drawn twice counts twice) at its original time, rebuilds the equity curve and
//! recomputes every metric. Intervals are percentile intervals of those resamples.
//!
//! A comparison against a baseline draws from the union of both runs' markets and applies the
//! **same** draw to both, so what the two runs share (the same markets resolving the same way)
//! cancels in the difference instead of widening its interval.

use std::collections::BTreeMap;

use rand::{rngs::StdRng, Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::{utc_day, BacktestError, RunResult, MAX_DAYS};

/// Daily returns are annualised by sqrt(365): Polymarket trades every day of the year.
pub const DAYS_PER_YEAR: f64 = 365.0;

/// A daily standard deviation below this is zero variance, and the Sharpe ratio undefined:
/// dividing by rounding noise would print an absurd ratio.
pub const ZERO_VARIANCE: f64 = 1e-12;

/// Fewest distinct markets for an interval: with one market every resample is the run itself
/// and a zero-width interval would pass for certainty.
pub const MIN_MARKETS: usize = 2;

/// What a run earned and risked.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Sum of pnl over starting capital.
    pub total_return: f64,
    /// Mean over sample standard deviation of daily returns, times sqrt(365). Daily return of
    /// day d: equity at the end of d over equity at the end of d-1, minus one (capital before
    /// the first day). None when fewer than two days, zero variance, or the equity hit zero.
    pub sharpe: Option<f64>,
    /// Largest fall from a running peak, as a fraction of that peak, on the end-of-day equity
    /// (the peak starts at the capital).
    pub max_drawdown: f64,
    /// The same on the equity after every close: at least `max_drawdown`.
    pub max_drawdown_intraday: f64,
    /// Share of trades with pnl > 0; None without trades.
    pub win_rate: Option<f64>,
    /// Closed trades.
    pub trades: usize,
    /// Mean pnl per trade, USDC; None without trades.
    pub avg_profit: Option<f64>,
}

/// Which way a metric is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Better {
    /// Larger is better.
    Higher,
    /// Smaller is better.
    Lower,
}

/// One of the [`Metrics`], to iterate over them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Metric {
    /// [`Metrics::total_return`].
    TotalReturn,
    /// [`Metrics::sharpe`].
    Sharpe,
    /// [`Metrics::max_drawdown`].
    MaxDrawdown,
    /// [`Metrics::max_drawdown_intraday`].
    MaxDrawdownIntraday,
    /// [`Metrics::win_rate`].
    WinRate,
    /// [`Metrics::trades`].
    Trades,
    /// [`Metrics::avg_profit`].
    AvgProfit,
}

impl Metric {
    /// Every metric, in report order.
    pub const ALL: [Metric; 7] = [
        Metric::TotalReturn,
        Metric::Sharpe,
        Metric::MaxDrawdown,
        Metric::MaxDrawdownIntraday,
        Metric::WinRate,
        Metric::Trades,
        Metric::AvgProfit,
    ];

    /// Name shown in the report.
    pub fn name(self) -> &'static str {
        match self {
            Metric::TotalReturn => "total return",
            Metric::Sharpe => "Sharpe (daily, annualised)",
            Metric::MaxDrawdown => "max drawdown (daily)",
            Metric::MaxDrawdownIntraday => "max drawdown (at each close)",
            Metric::WinRate => "win rate",
            Metric::Trades => "trades",
            Metric::AvgProfit => "average profit per trade (USDC)",
        }
    }

    /// Which way is better; None for the trade count, which is neither.
    pub fn better(self) -> Option<Better> {
        match self {
            Metric::TotalReturn | Metric::Sharpe | Metric::WinRate | Metric::AvgProfit => {
                Some(Better::Higher)
            }
            Metric::MaxDrawdown | Metric::MaxDrawdownIntraday => Some(Better::Lower),
            Metric::Trades => None,
        }
    }
}

impl Metrics {
    /// The value of one metric; None where it is undefined.
    pub fn get(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::TotalReturn => Some(self.total_return),
            Metric::Sharpe => self.sharpe,
            Metric::MaxDrawdown => Some(self.max_drawdown),
            Metric::MaxDrawdownIntraday => Some(self.max_drawdown_intraday),
            Metric::WinRate => self.win_rate,
            Metric::Trades => Some(self.trades as f64),
            Metric::AvgProfit => self.avg_profit,
        }
        .filter(|v| v.is_finite())
    }
}

/// Bootstrap settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BootstrapConfig {
    /// Resamples drawn.
    pub n_resamples: usize,
    /// Seed of the `StdRng` drawing them: the same seed gives the same intervals.
    pub seed: u64,
    /// Coverage of the percentile interval, e.g. 0.95.
    pub confidence: f64,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        BootstrapConfig {
            n_resamples: 2000,
            seed: 7,
            confidence: 0.95,
        }
    }
}

impl BootstrapConfig {
    /// At least 100 resamples (fewer leave the 2.5% tails to two or three draws) and a
    /// confidence strictly between 0 and 1.
    pub fn validate(&self) -> Result<(), BacktestError> {
        if self.n_resamples < 100 {
            return Err(BacktestError::BadConfig {
                reason: format!("n_resamples {} is below 100", self.n_resamples),
            });
        }
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return Err(BacktestError::BadConfig {
                reason: format!("confidence {} is not between 0 and 1", self.confidence),
            });
        }
        Ok(())
    }
}

/// A confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower bound.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
}

impl Interval {
    /// Whether `x` lies within the bounds.
    pub fn contains(&self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }
}

/// A metric of one run with its interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Which metric.
    pub metric: Metric,
    /// Its value on the run itself.
    pub point: Option<f64>,
    /// Percentile interval; None with fewer than [`MIN_MARKETS`] markets or when the metric is
    /// undefined in more than half of the resamples.
    pub ci: Option<Interval>,
    /// Resamples in which the metric was defined (the interval is taken over these).
    pub defined: usize,
}

/// One run's metrics and intervals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunStats {
    /// The run's strategy name.
    pub strategy: String,
    /// Distinct markets traded (the bootstrap's clusters).
    pub markets: usize,
    /// Metrics of the run itself.
    pub metrics: Metrics,
    /// One estimate per metric, in [`Metric::ALL`] order.
    pub estimates: Vec<Estimate>,
}

impl RunStats {
    /// The estimate of one metric.
    pub fn get(&self, metric: Metric) -> &Estimate {
        let i = Metric::ALL.iter().position(|&m| m == metric).unwrap_or(0);
        &self.estimates[i]
    }
}

/// Whether a difference is distinguishable from zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Significance {
    /// The interval lies entirely on the better side of zero.
    Better,
    /// The interval lies entirely on the worse side of zero.
    Worse,
    /// The interval contains zero.
    Inconclusive,
    /// No interval, or a metric with no better side (the trade count).
    Unavailable,
}

/// Strategy minus baseline for one metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Difference {
    /// Which metric.
    pub metric: Metric,
    /// Strategy minus baseline on the runs themselves.
    pub point: Option<f64>,
    /// Percentile interval of the paired differences.
    pub ci: Option<Interval>,
    /// Resamples in which both metrics were defined.
    pub defined: usize,
    /// Read off the interval and [`Metric::better`].
    pub significance: Significance,
}

/// The strategy against one baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The baseline's strategy name.
    pub baseline: String,
    /// Distinct markets of both runs together (the clusters drawn).
    pub markets: usize,
    /// One difference per metric, in [`Metric::ALL`] order.
    pub differences: Vec<Difference>,
}

impl Comparison {
    /// The difference of one metric.
    pub fn get(&self, metric: Metric) -> &Difference {
        let i = Metric::ALL.iter().position(|&m| m == metric).unwrap_or(0);
        &self.differences[i]
    }
}

/// Everything the report needs: the strategy, each baseline, and each comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The settings used.
    pub config: BootstrapConfig,
    /// The strategy under test.
    pub strategy: RunStats,
    /// Each baseline, in the order given.
    pub baselines: Vec<RunStats>,
    /// The strategy against each baseline, in the same order.
    pub comparisons: Vec<Comparison>,
}

/// Metrics of a run.
pub fn metrics(run: &RunResult) -> Result<Metrics, BacktestError> {
    run.validate()?;
    Ok(Prepared::new(run).metrics(None))
}

/// Metrics of a run with market-bootstrap intervals.
pub fn bootstrap(run: &RunResult, config: &BootstrapConfig) -> Result<RunStats, BacktestError> {
    run.validate()?;
    config.validate()?;
    let prepared = Prepared::new(run);
    let point = prepared.metrics(None);
    let k = prepared.markets.len();
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); Metric::ALL.len()];
    if k >= MIN_MARKETS {
        let mut rng = StdRng::seed_from_u64(config.seed);
        let mut weights = vec![0u32; k];
        for _ in 0..config.n_resamples {
            draw(&mut rng, &mut weights);
            let m = prepared.metrics(Some(&weights));
            for (values, metric) in samples.iter_mut().zip(Metric::ALL) {
                values.extend(m.get(metric));
            }
        }
    }
    let estimates = Metric::ALL
        .iter()
        .zip(samples)
        .map(|(&metric, mut values)| Estimate {
            metric,
            point: point.get(metric),
            ci: percentile_interval(&mut values, config),
            defined: values.len(),
        })
        .collect();
    Ok(RunStats {
        strategy: run.strategy.clone(),
        markets: k,
        metrics: point,
        estimates,
    })
}

/// Paired comparison: strategy minus baseline under the same market draws.
pub fn compare(
    strategy: &RunResult,
    baseline: &RunResult,
    config: &BootstrapConfig,
) -> Result<Comparison, BacktestError> {
    strategy.validate()?;
    baseline.validate()?;
    config.validate()?;
    let (a, b) = (Prepared::new(strategy), Prepared::new(baseline));
    let union: Vec<&str> = {
        let mut u: Vec<&str> = a.markets.iter().chain(&b.markets).copied().collect();
        u.sort_unstable();
        u.dedup();
        u
    };
    // Each run's markets as positions in the union, to hand both runs the same draw.
    let position = |p: &Prepared| -> Vec<usize> {
        p.markets
            .iter()
            .map(|m| union.binary_search(m).unwrap_or(0))
            .collect()
    };
    let (in_a, in_b) = (position(&a), position(&b));
    let (point_a, point_b) = (a.metrics(None), b.metrics(None));
    let diff = |x: &Metrics, y: &Metrics, metric| match (x.get(metric), y.get(metric)) {
        (Some(x), Some(y)) => Some(x - y).filter(|d| d.is_finite()),
        _ => None,
    };
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); Metric::ALL.len()];
    if union.len() >= MIN_MARKETS {
        let mut rng = StdRng::seed_from_u64(config.seed);
        let mut weights = vec![0u32; union.len()];
        let (mut wa, mut wb) = (vec![0u32; in_a.len()], vec![0u32; in_b.len()]);
        for _ in 0..config.n_resamples {
            draw(&mut rng, &mut weights);
            for (w, &u) in wa.iter_mut().zip(&in_a) {
                *w = weights[u];
            }
            for (w, &u) in wb.iter_mut().zip(&in_b) {
                *w = weights[u];
            }
            let (ma, mb) = (a.metrics(Some(&wa)), b.metrics(Some(&wb)));
            for (values, metric) in samples.iter_mut().zip(Metric::ALL) {
                values.extend(diff(&ma, &mb, metric));
            }
        }
    }
    let differences = Metric::ALL
        .iter()
        .zip(samples)
        .map(|(&metric, mut values)| {
            let ci = percentile_interval(&mut values, config);
            Difference {
                metric,
                point: diff(&point_a, &point_b, metric),
                ci,
                defined: values.len(),
                significance: significance(metric, ci),
            }
        })
        .collect();
    Ok(Comparison {
        baseline: baseline.strategy.clone(),
        markets: union.len(),
        differences,
    })
}

/// The strategy's and each baseline's intervals, and the strategy against each baseline.
pub fn evaluate(
    strategy: &RunResult,
    baselines: &[RunResult],
    config: &BootstrapConfig,
) -> Result<Evaluation, BacktestError> {
    Ok(Evaluation {
        config: *config,
        strategy: bootstrap(strategy, config)?,
        baselines: baselines
            .iter()
            .map(|b| bootstrap(b, config))
            .collect::<Result<_, _>>()?,
        comparisons: baselines
            .iter()
            .map(|b| compare(strategy, b, config))
            .collect::<Result<_, _>>()?,
    })
}

/// One bootstrap draw: as many markets as there are, with replacement, as counts per market.
fn draw(rng: &mut StdRng, weights: &mut [u32]) {
    weights.fill(0);
    let k = weights.len();
    for _ in 0..k {
        weights[rng.gen_range(0..k)] += 1;
    }
}

/// Percentile interval of `values` (sorted in place), linear between order statistics. None
/// when fewer than half of the resamples defined the metric: the rest would describe a
/// different population (say, only the resamples that happened to trade).
fn percentile_interval(values: &mut [f64], config: &BootstrapConfig) -> Option<Interval> {
    if values.is_empty() || values.len() * 2 < config.n_resamples {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let tail = (1.0 - config.confidence) / 2.0;
    Some(Interval {
        lo: quantile(values, tail),
        hi: quantile(values, 1.0 - tail),
    })
}

fn quantile(sorted: &[f64], p: f64) -> f64 {
    let pos = p * (sorted.len() - 1) as f64;
    let (i, frac) = (pos.floor() as usize, pos.fract());
    match sorted.get(i + 1) {
        Some(next) if frac > 0.0 => sorted[i] + frac * (next - sorted[i]),
        _ => sorted[i],
    }
}

fn significance(metric: Metric, ci: Option<Interval>) -> Significance {
    let (Some(better), Some(ci)) = (metric.better(), ci) else {
        return Significance::Unavailable;
    };
    let (above, below) = (ci.lo > 0.0, ci.hi < 0.0);
    match (better, above, below) {
        (Better::Higher, true, _) | (Better::Lower, _, true) => Significance::Better,
        (Better::Higher, _, true) | (Better::Lower, true, _) => Significance::Worse,
        _ => Significance::Inconclusive,
    }
}

/// A run's trades sorted by closing time, with markets as indices: one resample is then a
/// vector of counts per market, and the run is walked once per resample without allocating
/// more than its daily series.
pub(crate) struct Prepared<'a> {
    capital: f64,
    days: usize,
    /// Distinct markets, sorted, so draws do not depend on the order of the trades.
    markets: Vec<&'a str>,
    /// Market and pnl of every trade, by closing time.
    entries: Vec<(u32, f64)>,
    /// Trades closing in the same second settle together: where each such group ends in
    /// `entries`, its time and its day.
    groups: Vec<Group>,
    /// Per market: trades, winning trades, pnl.
    totals: Vec<(u64, u64, f64)>,
}

struct Group {
    end: usize,
    at: i64,
    day: usize,
}

/// The equity a run went through.
pub(crate) struct Curve {
    /// Equity after each distinct closing time.
    pub closes: Vec<(i64, f64)>,
    /// Equity at the end of each UTC day from `from` to `to`.
    pub daily_equity: Vec<f64>,
}

impl<'a> Prepared<'a> {
    /// Expects a validated run (closes within `[from, to]`); an unvalidated one gives
    /// meaningless numbers but no panic.
    pub(crate) fn new(run: &'a RunResult) -> Self {
        let first = utc_day(run.from);
        // Clamped so an unvalidated run (the chart draws whatever it is given) cannot ask for a
        // vector of billions of days.
        let days = (utc_day(run.to) - first + 1).clamp(1, MAX_DAYS) as usize;
        let index: BTreeMap<&str, usize> = run
            .markets()
            .into_iter()
            .enumerate()
            .map(|(i, m)| (m, i))
            .collect();
        let mut sorted: Vec<(i64, u32, f64)> = run
            .trades
            .iter()
            .map(|t| (t.closed_at, index[t.market_id.as_str()] as u32, t.pnl))
            .collect();
        // A total order, so sums are taken in the same order whatever order the engine used.
        sorted.sort_by(|x, y| (x.0, x.1).cmp(&(y.0, y.1)).then(x.2.total_cmp(&y.2)));
        let mut groups: Vec<Group> = Vec::new();
        let mut totals = vec![(0, 0, 0.0); index.len()];
        for (i, &(at, market, pnl)) in sorted.iter().enumerate() {
            match groups.last_mut() {
                Some(g) if g.at == at => g.end = i + 1,
                _ => groups.push(Group {
                    end: i + 1,
                    at,
                    day: ((utc_day(at) - first).max(0) as usize).min(days - 1),
                }),
            }
            let t = &mut totals[market as usize];
            t.0 += 1;
            t.1 += u64::from(pnl > 0.0);
            t.2 += pnl;
        }
        Prepared {
            capital: run.capital,
            days,
            markets: index.into_keys().collect(),
            entries: sorted.into_iter().map(|(_, m, pnl)| (m, pnl)).collect(),
            groups,
            totals,
        }
    }

    /// Walks the closes with each market's trades counted `weights[market]` times (once if
    /// None): adds each close's pnl to its day and hands the equity after it to `on_close`.
    /// A close whose markets were all left out of the draw is skipped.
    fn walk(
        &self,
        weights: Option<&[u32]>,
        daily_pnl: &mut [f64],
        mut on_close: impl FnMut(i64, f64),
    ) {
        let mut equity = self.capital;
        let mut start = 0;
        for g in &self.groups {
            let (mut step, mut any) = (0.0, false);
            for &(m, pnl) in &self.entries[start..g.end] {
                let w = weights.map_or(1, |w| w[m as usize]);
                step += f64::from(w) * pnl;
                any |= w > 0;
            }
            start = g.end;
            if any {
                equity += step;
                daily_pnl[g.day] += step;
                on_close(g.at, equity);
            }
        }
    }

    fn daily_equity(&self, daily_pnl: &[f64]) -> Vec<f64> {
        let mut equity = self.capital;
        daily_pnl
            .iter()
            .map(|pnl| {
                equity += pnl;
                equity
            })
            .collect()
    }

    /// The curve of the run itself.
    pub(crate) fn curve(&self) -> Curve {
        let mut daily_pnl = vec![0.0; self.days];
        let mut closes = Vec::with_capacity(self.groups.len());
        self.walk(None, &mut daily_pnl, |at, equity| closes.push((at, equity)));
        Curve {
            closes,
            daily_equity: self.daily_equity(&daily_pnl),
        }
    }

    fn metrics(&self, weights: Option<&[u32]>) -> Metrics {
        let mut daily_pnl = vec![0.0; self.days];
        let mut intraday = Drawdown::new(self.capital);
        self.walk(weights, &mut daily_pnl, |_, equity| intraday.see(equity));
        let daily_equity = self.daily_equity(&daily_pnl);
        let mut daily = Drawdown::new(self.capital);
        daily_equity.iter().for_each(|&e| daily.see(e));
        let (mut trades, mut wins, mut pnl) = (0u64, 0u64, 0.0);
        for (m, &(n, w, p)) in self.totals.iter().enumerate() {
            let k = weights.map_or(1, |w| w[m]);
            trades += u64::from(k) * n;
            wins += u64::from(k) * w;
            pnl += f64::from(k) * p;
        }
        let per_trade = |x: f64| (trades > 0).then(|| x / trades as f64);
        Metrics {
            total_return: pnl / self.capital,
            sharpe: sharpe(self.capital, &daily_equity),
            max_drawdown: daily.worst,
            max_drawdown_intraday: intraday.worst,
            win_rate: per_trade(wins as f64),
            trades: trades as usize,
            avg_profit: per_trade(pnl),
        }
    }
}

/// Annualised Sharpe ratio of the daily returns of an end-of-day equity series.
fn sharpe(capital: f64, daily_equity: &[f64]) -> Option<f64> {
    if daily_equity.len() < 2 {
        return None;
    }
    // A return on nothing (the run went bust) has no meaning.
    let starts = std::iter::once(&capital).chain(daily_equity);
    if starts.clone().take(daily_equity.len()).any(|&e| e <= 0.0) {
        return None;
    }
    let returns = || starts.clone().zip(daily_equity).map(|(p, e)| e / p - 1.0);
    let n = daily_equity.len() as f64;
    let mean = returns().sum::<f64>() / n;
    let var = returns().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let sd = var.sqrt();
    (sd >= ZERO_VARIANCE)
        .then(|| mean / sd * DAYS_PER_YEAR.sqrt())
        .filter(|s| s.is_finite())
}

/// Largest `(peak - equity) / peak` seen so far, the peak starting at the capital.
struct Drawdown {
    peak: f64,
    worst: f64,
}

impl Drawdown {
    fn new(capital: f64) -> Self {
        Drawdown {
            peak: capital,
            worst: 0.0,
        }
    }

    fn see(&mut self, equity: f64) {
        self.peak = self.peak.max(equity);
        self.worst = self.worst.max((self.peak - equity) / self.peak);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backtest::{
        tests::{hand_run, trade, T0},
        ClosedTrade, DAY,
    };

    /// A run of `markets` markets, two or three trades each spread over 30 days, pnl uniform
    /// in `edge ± 30` USDC.
    pub(crate) fn random_run(name: &str, markets: usize, edge: f64, seed: u64) -> RunResult {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut trades = Vec::new();
        for m in 0..markets {
            for _ in 0..rng.gen_range(2..=3) {
                let mut t = trade(
                    &format!("0x{m:064x}"),
                    T0 + rng.gen_range(0..30 * DAY),
                    edge + rng.gen_range(-30.0..30.0),
                );
                t.strategy = name.into();
                trades.push(t);
            }
        }
        RunResult {
            strategy: name.into(),
            capital: 10_000.0,
            from: T0,
            to: T0 + 30 * DAY - 1,
            trades,
        }
    }

    fn config(n_resamples: usize, seed: u64) -> BootstrapConfig {
        BootstrapConfig {
            n_resamples,
            seed,
            confidence: 0.95,
        }
    }

    #[test]
    fn metrics_of_a_hand_built_run() {
        let m = metrics(&hand_run()).unwrap();
        // Pnl +100 -50 -150 +20 on 1000 of capital.
        assert_eq!(m.total_return, -0.08);
        assert_eq!(m.trades, 4);
        assert_eq!(m.win_rate, Some(0.5));
        assert_eq!(m.avg_profit, Some(-20.0));
        // End of day 1050, 900, 900, 920: peak 1050, trough 900.
        assert_eq!(m.max_drawdown, 150.0 / 1050.0);
        // After each close 1100, 1050, 900, 920: peak 1100, trough 900.
        assert_eq!(m.max_drawdown_intraday, 200.0 / 1100.0);
        // Daily returns 50/1000, -150/1050, 0/900, 20/900; computed by hand (Python):
        // mean -0.017658730158730, sample sd 0.085935377702327, times sqrt(365).
        let sharpe = m.sharpe.unwrap();
        assert!((sharpe - -3.925_851_901_735).abs() < 1e-9, "{sharpe}");
    }

    #[test]
    fn metrics_ignore_the_order_of_the_trades() {
        let mut run = random_run("s", 40, 1.0, 3);
        let before = bootstrap(&run, &config(200, 1)).unwrap();
        run.trades.reverse();
        run.trades.swap(0, 17);
        assert_eq!(bootstrap(&run, &config(200, 1)).unwrap(), before);
    }

    #[test]
    fn sharpe_undefined_without_variance() {
        // No trades: every daily return is zero.
        let mut run = hand_run();
        run.trades.clear();
        let m = metrics(&run).unwrap();
        assert_eq!(m.sharpe, None);
        assert_eq!((m.total_return, m.max_drawdown, m.trades), (0.0, 0.0, 0));
        assert_eq!((m.win_rate, m.avg_profit), (None, None));
        // One day only: no sample deviation.
        let mut run = hand_run();
        run.to = run.from + 3600 * 13;
        run.trades.truncate(2);
        assert_eq!(metrics(&run).unwrap().sharpe, None);
        // Bust: equity at zero, the next day's return is undefined.
        let mut run = hand_run();
        run.trades[2].pnl = -1050.0;
        assert_eq!(metrics(&run).unwrap().sharpe, None);
        // The same return every day compounds to the same daily fraction: zero variance.
        let mut run = hand_run();
        run.trades = (0..4)
            .map(|d| trade("m", T0 + d * DAY, 1000.0 * 1.01f64.powi(d as i32) * 0.01))
            .collect();
        assert_eq!(metrics(&run).unwrap().sharpe, None);
    }

    #[test]
    fn bootstrap_is_deterministic_with_a_seed() {
        let run = random_run("s", 60, 2.0, 11);
        let a = bootstrap(&run, &config(500, 42)).unwrap();
        let b = bootstrap(&run, &config(500, 42)).unwrap();
        assert_eq!(a, b);
        let c = bootstrap(&run, &config(500, 43)).unwrap();
        assert_ne!(a.get(Metric::TotalReturn).ci, c.get(Metric::TotalReturn).ci);
    }

    #[test]
    fn intervals_contain_the_point_estimate() {
        let run = random_run("s", 120, 1.0, 5);
        let stats = bootstrap(&run, &BootstrapConfig::default()).unwrap();
        assert_eq!(stats.markets, 120);
        for metric in [
            Metric::TotalReturn,
            Metric::Sharpe,
            Metric::WinRate,
            Metric::AvgProfit,
            Metric::Trades,
        ] {
            let e = stats.get(metric);
            let (point, ci) = (e.point.unwrap(), e.ci.unwrap());
            assert!(ci.contains(point), "{metric:?}: {point} outside {ci:?}");
            assert!(ci.lo < ci.hi, "{metric:?}: {ci:?} has no width");
            assert_eq!(e.defined, 2000);
        }
    }

    #[test]
    fn resamples_keep_every_trade_of_a_drawn_market() {
        // Two markets, one trade of +10 in "a" and two of -1 in "b": a resample draws aa, ab
        // or bb, so the total pnl can only be 20, 8 or -4.
        let run = RunResult {
            strategy: "s".into(),
            capital: 100.0,
            from: T0,
            to: T0 + DAY - 1,
            trades: vec![
                trade("a", T0 + 10, 10.0),
                trade("b", T0 + 20, -1.0),
                trade("b", T0 + 30, -1.0),
            ],
        };
        let p = Prepared::new(&run);
        let mut rng = StdRng::seed_from_u64(1);
        let mut weights = vec![0; 2];
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            draw(&mut rng, &mut weights);
            assert_eq!(weights.iter().sum::<u32>(), 2);
            let m = p.metrics(Some(&weights));
            seen.insert(((m.total_return * 100.0).round() as i64, m.trades));
        }
        assert_eq!(
            seen.into_iter().collect::<Vec<_>>(),
            vec![(-4, 4), (8, 3), (20, 2)]
        );
    }

    #[test]
    fn a_true_edge_is_significant() {
        let strategy = random_run("strategy", 200, 5.0, 1);
        let baseline = random_run("baseline", 200, 0.0, 2);
        let c = compare(&strategy, &baseline, &BootstrapConfig::default()).unwrap();
        let d = c.get(Metric::TotalReturn);
        assert!(d.ci.unwrap().lo > 0.0, "{d:?}");
        assert_eq!(d.significance, Significance::Better);
        assert_eq!(c.get(Metric::AvgProfit).significance, Significance::Better);
        assert_eq!(
            c.get(Metric::Trades).significance,
            Significance::Unavailable
        );
        assert_eq!(c.markets, 200);
    }

    #[test]
    fn no_false_discovery_between_zero_edge_runs() {
        let a = random_run("a", 200, 0.0, 1);
        let b = random_run("b", 200, 0.0, 2);
        let c = compare(&a, &b, &BootstrapConfig::default()).unwrap();
        for metric in [Metric::TotalReturn, Metric::AvgProfit, Metric::WinRate] {
            let d = c.get(metric);
            assert!(d.ci.unwrap().contains(0.0), "{metric:?}: {d:?}");
            assert_eq!(d.significance, Significance::Inconclusive);
        }
        // A run against itself: every paired difference is exactly zero, never significant.
        let c = compare(&a, &a, &config(200, 3)).unwrap();
        for d in &c.differences {
            assert_eq!(d.point, Some(0.0), "{:?}", d.metric);
            assert_eq!(d.ci, Some(Interval { lo: 0.0, hi: 0.0 }), "{:?}", d.metric);
            assert_ne!(d.significance, Significance::Better);
        }
        // Calibration: over 40 independent pairs a 95% interval should exclude zero about
        // twice; more than six would mean intervals far too narrow.
        let false_discoveries = (0..40u64)
            .filter(|&s| {
                let a = random_run("a", 60, 0.0, 100 + 2 * s);
                let b = random_run("b", 60, 0.0, 101 + 2 * s);
                let c = compare(&a, &b, &config(1000, s)).unwrap();
                c.get(Metric::TotalReturn).significance != Significance::Inconclusive
            })
            .count();
        assert!(false_discoveries <= 6, "{false_discoveries} of 40");
    }

    #[test]
    fn clustered_outcomes_do_not_pass_for_an_edge() {
        // Ten trades per market share the market's outcome: a bootstrap over trades would
        // count each market ten times as evidence and find edges in noise; over markets it
        // must stay calibrated.
        let clustered = |name: &str, seed: u64| {
            let mut run = random_run(name, 30, 0.0, seed);
            let mut rng = StdRng::seed_from_u64(seed ^ 0xc1u64);
            let shocks: Vec<f64> = (0..30).map(|_| rng.gen_range(-30.0..30.0)).collect();
            run.trades = (0..300)
                .map(|i| {
                    let m = i % 30;
                    let mut t = trade(
                        &format!("m{m}"),
                        T0 + rng.gen_range(0..30 * DAY),
                        shocks[m] + rng.gen_range(-1.0..1.0),
                    );
                    t.strategy = name.into();
                    t
                })
                .collect();
            run
        };
        let false_discoveries = (0..40u64)
            .filter(|&s| {
                let a = clustered("a", 1000 + 2 * s);
                let b = clustered("b", 1001 + 2 * s);
                let c = compare(&a, &b, &config(1000, s)).unwrap();
                c.get(Metric::TotalReturn).significance != Significance::Inconclusive
            })
            .count();
        assert!(false_discoveries <= 6, "{false_discoveries} of 40");
    }

    #[test]
    fn paired_draws_cancel_shared_outcomes() {
        // The baseline is the strategy plus a small constant per trade in the same markets: the
        // difference is the same in every resample up to the trade count, so a paired interval
        // is narrow and above zero although each run's own interval is wide and overlaps.
        let strategy = random_run("s", 50, 0.0, 9);
        let mut baseline = strategy.clone();
        baseline.strategy = "b".into();
        for t in &mut baseline.trades {
            t.pnl -= 0.5;
        }
        let cfg = BootstrapConfig::default();
        let c = compare(&strategy, &baseline, &cfg).unwrap();
        let avg = c.get(Metric::AvgProfit).ci.unwrap();
        assert!(
            (avg.lo - 0.5).abs() < 1e-9 && (avg.hi - 0.5).abs() < 1e-9,
            "{avg:?}"
        );
        assert_eq!(
            c.get(Metric::TotalReturn).significance,
            Significance::Better
        );
        let (s, b) = (
            bootstrap(&strategy, &cfg).unwrap(),
            bootstrap(&baseline, &cfg).unwrap(),
        );
        let (s, b) = (
            s.get(Metric::TotalReturn).ci.unwrap(),
            b.get(Metric::TotalReturn).ci.unwrap(),
        );
        assert!(s.lo < b.hi, "own intervals overlap: {s:?} {b:?}");
    }

    #[test]
    fn no_interval_without_enough_markets() {
        let cfg = config(200, 1);
        let mut empty = hand_run();
        empty.trades.clear();
        let stats = bootstrap(&empty, &cfg).unwrap();
        assert_eq!(stats.markets, 0);
        assert!(stats.estimates.iter().all(|e| e.ci.is_none()));
        assert_eq!(stats.get(Metric::TotalReturn).point, Some(0.0));
        assert_eq!(stats.get(Metric::WinRate).point, None);

        let mut one: RunResult = hand_run();
        one.trades.retain(|t| t.market_id == "m1");
        let stats = bootstrap(&one, &cfg).unwrap();
        assert_eq!(stats.markets, 1);
        assert!(stats.estimates.iter().all(|e| e.ci.is_none()));
        let c = compare(&one, &empty, &cfg).unwrap();
        assert_eq!(c.markets, 1);
        assert!(c.differences.iter().all(|d| d.ci.is_none()));
        assert!(c
            .differences
            .iter()
            .all(|d| d.significance == Significance::Unavailable));
        // One market each but two together: the comparison draws from both.
        let mut other = hand_run();
        other.trades.retain(|t| t.market_id == "m3");
        let c = compare(&one, &other, &cfg).unwrap();
        assert_eq!(c.markets, 2);
        assert!(c.get(Metric::TotalReturn).ci.is_some());
    }

    #[test]
    fn all_equal_pnl_gives_defined_numbers() {
        let run = RunResult {
            trades: (0..10)
                .map(|m| trade(&format!("m{m}"), T0 + 3600 * m, 5.0))
                .collect::<Vec<ClosedTrade>>(),
            ..hand_run()
        };
        let stats = bootstrap(&run, &config(300, 2)).unwrap();
        // Every resample has ten trades of +5: the interval is exactly the point.
        let e = stats.get(Metric::AvgProfit);
        assert_eq!(e.ci, Some(Interval { lo: 5.0, hi: 5.0 }));
        assert_eq!(
            stats.get(Metric::WinRate).ci,
            Some(Interval { lo: 1.0, hi: 1.0 })
        );
        assert_eq!(stats.get(Metric::MaxDrawdown).point, Some(0.0));
        for e in &stats.estimates {
            assert!(e.point.map_or(true, f64::is_finite));
            assert!(e.ci.map_or(true, |c| c.lo.is_finite() && c.hi.is_finite()));
        }
    }

    #[test]
    fn percentiles_interpolate() {
        let mut v: Vec<f64> = (0..=100).rev().map(f64::from).collect();
        let ci = percentile_interval(&mut v, &config(101, 0)).unwrap();
        assert!(
            (ci.lo - 2.5).abs() < 1e-12 && (ci.hi - 97.5).abs() < 1e-12,
            "{ci:?}"
        );
        assert!(percentile_interval(&mut [1.0; 10], &config(100, 0)).is_none());
        assert!(BootstrapConfig {
            n_resamples: 10,
            ..Default::default()
        }
        .validate()
        .is_err());
        assert!(BootstrapConfig {
            confidence: 1.0,
            ..Default::default()
        }
        .validate()
        .is_err());
    }
}
