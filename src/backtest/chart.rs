//! The equity and drawdown chart, as a standalone SVG written by hand: two panels on one dated
//! x axis, one line per run. A chart library would be a dependency for two polylines.

use std::fmt::Write;

use super::{
    civil_from_days, days_from_civil, utc_date, utc_day, utc_minute, RunResult, DAY, MAX_DAYS,
};

const WIDTH: f64 = 960.0;
const LEFT: f64 = 84.0;
const RIGHT: f64 = 24.0;
const EQUITY_HEIGHT: f64 = 300.0;
const DRAWDOWN_HEIGHT: f64 = 150.0;
/// Between the panels: the equity panel's x grid needs no labels, the title of the next does.
const GAP: f64 = 44.0;
const FONT: &str = "font-family=\"Helvetica, Arial, sans-serif\"";

/// Line colours, the strategy first; colour-blind safe (Okabe-Ito), repeated past eight runs.
const COLOURS: [&str; 8] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442",
];

/// SVG of the equity curves of `runs` (top) and their drawdown below the running peak
/// (bottom), the first run drawn thicker as the strategy under test. Runs are expected to be
/// validated; the chart never prints NaN, whatever it is given.
pub fn svg(runs: &[RunResult]) -> String {
    let curves: Vec<Curve> = runs.iter().map(Curve::of).collect();
    // Times clamped to ±35,000 years and a span of at most MAX_DAYS, so that no arithmetic
    // below can overflow, even on a run that was never validated.
    let (t0, t1) = {
        const FAR: i64 = 1 << 40;
        let t0 = runs
            .iter()
            .map(|r| r.from)
            .min()
            .unwrap_or(0)
            .clamp(-FAR, FAR);
        let t1 = runs.iter().map(|r| r.to).max().unwrap_or(DAY);
        let t1 = t1.min(t0 + MAX_DAYS * DAY);
        (t0, if t1 > t0 { t1 } else { t0 + DAY })
    };
    let plot_w = WIDTH - LEFT - RIGHT;
    let x = |t: i64| LEFT + (t as f64 - t0 as f64) / (t1 - t0) as f64 * plot_w;

    // Legend: items laid out left to right, wrapping to a new row when the next does not fit.
    let mut legend = String::new();
    let (mut lx, mut ly) = (LEFT, 46.0);
    for (i, run) in runs.iter().enumerate() {
        let label = escape(&run.strategy);
        let w = 32.0 + 6.4 * run.strategy.chars().count() as f64 + 20.0;
        if lx + w > WIDTH - RIGHT && lx > LEFT {
            (lx, ly) = (LEFT, ly + 18.0);
        }
        let _ = write!(
            legend,
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{}\" \
             stroke-width=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\">{label}</text>",
            lx,
            ly - 4.0,
            lx + 26.0,
            ly - 4.0,
            colour(i),
            width(i),
            lx + 32.0,
            ly,
        );
        lx += w;
    }
    let eq_top = ly + 22.0;
    let eq_bottom = eq_top + EQUITY_HEIGHT;
    let dd_top = eq_bottom + GAP;
    let dd_bottom = dd_top + DRAWDOWN_HEIGHT;
    let height = dd_bottom + 44.0;

    let mut out = String::new();
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" {FONT}>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n\
         <text x=\"{LEFT}\" y=\"22\" font-size=\"15\" font-weight=\"bold\">Equity (USDC)</text>\n\
         {legend}\n"
    );
    if runs.is_empty() {
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"14\" text-anchor=\"middle\">no runs</text>",
            LEFT + plot_w / 2.0,
            eq_top + EQUITY_HEIGHT / 2.0
        );
    }

    // Equity panel.
    let (lo, hi) = padded_range(
        curves
            .iter()
            .flat_map(|c| c.points.iter().map(|p| p.1))
            .chain(runs.iter().map(|r| r.capital)),
    );
    let eq_ticks = nice_ticks(lo, hi, 6);
    let (lo, hi) = (
        eq_ticks.first().copied().unwrap_or(lo).min(lo),
        eq_ticks.last().copied().unwrap_or(hi).max(hi),
    );
    let y_eq = |v: f64| eq_bottom - (v - lo) / (hi - lo) * EQUITY_HEIGHT;
    let time_ticks = time_ticks(t0, t1);
    grid(&mut out, &time_ticks, &x, eq_top, eq_bottom, false);
    let step = tick_step(&eq_ticks);
    for &v in &eq_ticks {
        horizontal_tick(&mut out, y_eq(v), &number(v, step), v == lo);
    }
    // Baselines first, so the strategy's line lies on top.
    for (i, c) in curves.iter().enumerate().rev() {
        let pts: Vec<(f64, f64)> = c.points.iter().map(|&(t, e)| (x(t), y_eq(e))).collect();
        path(&mut out, &pts, i);
    }

    // Drawdown panel.
    let _ = writeln!(
        out,
        "<text x=\"{LEFT}\" y=\"{:.1}\" font-size=\"15\" font-weight=\"bold\">\
         Drawdown (% below peak)</text>",
        dd_top - 10.0
    );
    let worst = curves
        .iter()
        .flat_map(|c| c.drawdown.iter().map(|p| p.1))
        .fold(0.0f64, f64::max);
    let dd_ticks = nice_ticks(-(worst * 100.0).max(1.0), 0.0, 5);
    let dd_lo = dd_ticks.first().copied().unwrap_or(-1.0).min(-1.0);
    let y_dd = |fraction: f64| dd_top + (fraction * 100.0) / -dd_lo * DRAWDOWN_HEIGHT;
    grid(&mut out, &time_ticks, &x, dd_top, dd_bottom, true);
    let step = tick_step(&dd_ticks);
    for &v in &dd_ticks {
        let label = format!("{}%", number(v, step));
        horizontal_tick(
            &mut out,
            dd_top + v / dd_lo * DRAWDOWN_HEIGHT,
            &label,
            v == 0.0,
        );
    }
    for (i, c) in curves.iter().enumerate().rev() {
        let pts: Vec<(f64, f64)> = c.drawdown.iter().map(|&(t, d)| (x(t), y_dd(d))).collect();
        path(&mut out, &pts, i);
    }
    let _ = write!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\" fill=\"#555555\">\
         UTC</text>\n</svg>\n",
        WIDTH - RIGHT,
        height - 6.0
    );
    out
}

/// A run's equity after each close, held to the end, and its drawdown at the same times.
struct Curve {
    points: Vec<(i64, f64)>,
    drawdown: Vec<(i64, f64)>,
}

impl Curve {
    fn of(run: &RunResult) -> Curve {
        let mut points: Vec<(i64, f64)> = run
            .equity_at_closes()
            .into_iter()
            .filter(|p| p.1.is_finite())
            .collect();
        if let Some(&(t, e)) = points.last() {
            if t < run.to {
                points.push((run.to, e));
            }
        }
        let mut peak = f64::MIN;
        let drawdown = points
            .iter()
            .map(|&(t, e)| {
                peak = peak.max(e);
                let dd = if peak > 0.0 { (peak - e) / peak } else { 0.0 };
                (t, dd)
            })
            .collect();
        Curve { points, drawdown }
    }
}

fn colour(i: usize) -> &'static str {
    COLOURS[i % COLOURS.len()]
}

fn width(i: usize) -> f64 {
    if i == 0 {
        2.4
    } else {
        1.4
    }
}

/// A step line (the value holds until the next close), thinned to at most four vertices per
/// pixel column (first, lowest, highest, last) so a run of a million trades stays a small file
/// and looks the same.
fn path(out: &mut String, pts: &[(f64, f64)], i: usize) {
    let Some(&(x0, y0)) = pts.first() else {
        return;
    };
    let mut d = format!("M{x0:.1},{y0:.1}");
    let mut column: Vec<f64> = Vec::new();
    let mut column_x = x0.round();
    for &(px, py) in &pts[1..] {
        if px.round() != column_x {
            flush_column(&mut d, &mut column, column_x);
            column_x = px.round();
        }
        column.push(py);
    }
    flush_column(&mut d, &mut column, column_x);
    if let Some(&(xn, _)) = pts.last() {
        let _ = write!(d, "H{xn:.1}");
    }
    let _ = writeln!(
        out,
        "<path d=\"{d}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\" \
         stroke-linejoin=\"round\"/>",
        colour(i),
        width(i)
    );
}

/// Steps to pixel column `x` and through the column's first, lowest, highest and last value.
fn flush_column(d: &mut String, column: &mut Vec<f64>, x: f64) {
    let (Some(&first), Some(&last)) = (column.first(), column.last()) else {
        return;
    };
    let lo = column.iter().copied().fold(f64::MAX, f64::min);
    let hi = column.iter().copied().fold(f64::MIN, f64::max);
    let _ = write!(d, "H{x:.1}");
    for y in [first, lo, hi, last] {
        let _ = write!(d, "V{y:.1}");
    }
    column.clear();
}

/// Vertical grid lines at the time ticks, labelled under the panel if `labels`.
fn grid(
    out: &mut String,
    ticks: &[(i64, String)],
    x: &impl Fn(i64) -> f64,
    top: f64,
    bottom: f64,
    labels: bool,
) {
    let _ = writeln!(
        out,
        "<rect x=\"{LEFT}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"none\" \
         stroke=\"#999999\"/>",
        WIDTH - LEFT - RIGHT,
        bottom - top
    );
    for (t, label) in ticks {
        let xt = x(*t);
        let _ = writeln!(
            out,
            "<line x1=\"{xt:.1}\" y1=\"{top:.1}\" x2=\"{xt:.1}\" y2=\"{bottom:.1}\" \
             stroke=\"#e5e5e5\"/>"
        );
        if labels {
            // A label centred on the last tick would run off the right edge.
            let half = 3.3 * label.chars().count() as f64;
            let anchor = if xt + half > WIDTH { "end" } else { "middle" };
            let _ = writeln!(
                out,
                "<text x=\"{xt:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"{anchor}\">{}</text>",
                bottom + 16.0,
                escape(label)
            );
        }
    }
}

/// A horizontal grid line with its label left of the axis.
fn horizontal_tick(out: &mut String, y: f64, label: &str, axis: bool) {
    let stroke = if axis { "#999999" } else { "#e5e5e5" };
    let _ = writeln!(
        out,
        "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{stroke}\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
        WIDTH - RIGHT,
        LEFT - 6.0,
        y + 4.0,
        escape(label)
    );
}

/// Lowest and highest finite value with 5% room either side; a flat series gets ±1% (±1).
fn padded_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-9 * hi.abs().max(1.0) {
        let pad = (hi.abs() * 0.01).max(1.0);
        return (lo - pad, hi + pad);
    }
    let pad = (hi - lo) * 0.05;
    (lo - pad, hi + pad)
}

/// Round ticks (1, 2 or 5 times a power of ten) covering `[lo, hi]`, at most about `max`.
fn nice_ticks(lo: f64, hi: f64, max: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite() && hi > lo) {
        return vec![];
    }
    let raw = (hi - lo) / max as f64;
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * power);
    let first = (lo / step).floor() as i64;
    let last = (hi / step).ceil() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

fn tick_step(ticks: &[f64]) -> f64 {
    match ticks {
        [a, b, ..] => b - a,
        _ => 1.0,
    }
}

/// Date ticks at round intervals: hours, days, weeks, then the first days of months.
fn time_ticks(t0: i64, t1: i64) -> Vec<(i64, String)> {
    const H: i64 = 3600;
    let span = t1 - t0;
    let regular = |step: i64, label: fn(i64) -> String| {
        let first = (t0 + step - 1).div_euclid(step) * step;
        (0..)
            .map(|k| first + k * step)
            .take_while(|&t| t <= t1)
            .map(|t| (t, label(t)))
            .collect()
    };
    // Hour labels are twice as long as dates, so fewer of them fit.
    if let Some(step) = [H, 3 * H, 6 * H, 12 * H]
        .into_iter()
        .find(|s| span / s <= 6)
    {
        return regular(step, utc_minute);
    }
    if let Some(step) = [DAY, 2 * DAY, 7 * DAY, 14 * DAY]
        .into_iter()
        .find(|s| span / s <= 8)
    {
        return regular(step, utc_date);
    }
    let month = |t: i64| {
        let (y, m, _) = civil_from_days(utc_day(t));
        y * 12 + i64::from(m) - 1
    };
    let (m0, m1) = (month(t0), month(t1));
    let every = [1, 2, 3, 6, 12, 24, 60, 120, 240, 600, 1200]
        .into_iter()
        .find(|e| (m1 - m0) / e <= 8)
        .unwrap_or(1200);
    (m0..=m1)
        .filter(|m| m.rem_euclid(every) == 0)
        .map(|m| days_from_civil(m.div_euclid(12), (m.rem_euclid(12) + 1) as u32, 1) * DAY)
        .filter(|&t| t0 <= t && t <= t1)
        .map(|t| (t, utc_date(t)))
        .collect()
}

/// A number with thousands separators and as many decimals as the tick step needs.
fn number(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 || step <= 0.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    let s = format!("{:.*}", decimals, v.abs());
    let (int, frac) = s.split_once('.').map_or((s.as_str(), ""), |(i, f)| (i, f));
    let mut grouped = String::new();
    for (k, c) in int.chars().enumerate() {
        if k > 0 && (int.len() - k) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if v < 0.0 && s.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "−"
    } else {
        ""
    };
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{frac}")
    }
}

/// Text safe inside an element or a quoted attribute.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0 at all.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::backtest::tests::{hand_run, T0};

    /// Balanced tags, one root `svg`, no NaN or infinity anywhere: the checks an XML parser
    /// would fail on first, without adding one as a dependency.
    pub fn assert_well_formed(svg: &str) {
        assert!(
            svg.starts_with("<?xml version=\"1.0\""),
            "no XML declaration"
        );
        assert!(svg.contains("<svg ") && svg.trim_end().ends_with("</svg>"));
        for bad in ["NaN", "inf", "nan"] {
            assert!(!svg.contains(bad), "{bad} in the SVG");
        }
        let body = &svg[svg.find("?>").unwrap() + 2..];
        let mut stack: Vec<&str> = Vec::new();
        let mut rest = body;
        while let Some(open) = rest.find('<') {
            let close = rest[open..].find('>').expect("unclosed tag") + open;
            let tag = &rest[open + 1..close];
            assert!(!tag.contains('<'), "'<' inside tag {tag:?}");
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop(), Some(name.trim()), "mismatched </{name}>");
            } else if !tag.ends_with('/') {
                stack.push(tag.split_whitespace().next().unwrap());
            }
            // Text between tags must not hold a raw '&' that is not an entity.
            let text = &rest[close + 1..];
            let text = &text[..text.find('<').unwrap_or(text.len())];
            for (i, _) in text.match_indices('&') {
                let entity = &text[i..text[i..].find(';').map_or(text.len(), |j| i + j + 1)];
                assert!(
                    ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].contains(&entity),
                    "raw & in {text:?}"
                );
            }
            if stack.is_empty() {
                assert!(text.trim().is_empty(), "text after the root: {text:?}");
            }
            rest = &rest[close + 1..];
        }
        assert!(stack.is_empty(), "unclosed {stack:?}");
    }

    #[test]
    fn draws_every_run_with_a_legend_and_axes() {
        let mut baseline = hand_run();
        baseline.strategy = "buy <everything> & \"more\"".into();
        for t in &mut baseline.trades {
            t.pnl = -t.pnl;
        }
        let svg = svg(&[hand_run(), baseline]);
        assert_well_formed(&svg);
        assert!(svg.contains("viewBox=\"0 0 960 "));
        assert!(svg.contains(">hand</text>"));
        assert!(svg.contains(">buy &lt;everything&gt; &amp; &quot;more&quot;</text>"));
        assert_eq!(svg.matches("<path ").count(), 4, "two runs, two panels");
        for label in ["2023-11-14", "2023-11-15", "2023-11-16", "2023-11-17"] {
            assert!(svg.contains(&format!(">{label}</text>")), "{label}");
        }
        // Equity 900 to 1100 for both: ticks every 50 USDC.
        for label in [">900</text>", ">1,000</text>", ">1,100</text>"] {
            assert!(svg.contains(label), "{label}");
        }
        // The hand run falls 18.2% from its 1100 peak: drawdown ticks to -20%.
        assert!(svg.contains(">−20%</text>") && svg.contains(">0%</text>"));
    }

    #[test]
    fn no_runs_no_trades_and_one_instant_still_draw() {
        let empty = svg(&[]);
        assert_well_formed(&empty);
        assert!(empty.contains(">no runs</text>"));
        let mut run = hand_run();
        run.trades.clear();
        run.to = run.from;
        let flat = svg(&[run]);
        assert_well_formed(&flat);
        assert_eq!(flat.matches("<path ").count(), 2);
    }

    #[test]
    fn absurd_runs_do_not_break_the_drawing() {
        let mut run = hand_run();
        run.to = i64::MAX;
        run.capital = f64::NAN;
        run.trades[0].pnl = f64::INFINITY;
        let mut other = hand_run();
        other.from = i64::MIN;
        assert_well_formed(&svg(&[run, other]));
    }

    #[test]
    fn large_runs_are_thinned_per_pixel() {
        let mut run = hand_run();
        run.trades = (0..20_000)
            .map(|i| {
                let mut t = crate::backtest::tests::trade("m", T0 + 10 * i, 0.0);
                t.pnl = if i % 2 == 0 { 1.0 } else { -1.0 };
                t
            })
            .collect();
        run.to = T0 + 10 * 20_000;
        let s = svg(&[run]);
        assert_well_formed(&s);
        // 852 pixel columns, at most five commands each, per panel.
        assert!(s.len() < 100_000, "{} bytes", s.len());
    }

    #[test]
    fn ticks_and_numbers() {
        assert_eq!(
            nice_ticks(903.0, 1097.0, 6),
            vec![900.0, 950.0, 1000.0, 1050.0, 1100.0]
        );
        assert_eq!(
            nice_ticks(-18.2, 0.0, 4),
            vec![-20.0, -15.0, -10.0, -5.0, 0.0]
        );
        assert!(nice_ticks(1.0, 1.0, 4).is_empty());
        assert_eq!(number(1_234_567.0, 1000.0), "1,234,567");
        assert_eq!(number(-0.25, 0.05), "−0.25");
        assert_eq!(number(-0.0, 1.0), "0");
        assert_eq!(number(999.5, 0.5), "999.5");
        let ticks = time_ticks(T0 + 1, T0 + 2 * DAY);
        assert_eq!(ticks[0], (T0 + 12 * 3600, "2023-11-14 12:00".to_string()));
        assert_eq!(ticks.len(), 4);
        let ticks = time_ticks(T0, T0 + 4 * DAY - 1);
        assert_eq!(ticks.len(), 4);
        assert_eq!(ticks[3].1, "2023-11-17");
        let labels: Vec<String> = time_ticks(T0, T0 + 365 * DAY)
            .into_iter()
            .map(|t| t.1)
            .collect();
        assert_eq!(
            labels,
            [
                "2024-01-01",
                "2024-03-01",
                "2024-05-01",
                "2024-07-01",
                "2024-09-01",
                "2024-11-01"
            ]
        );
        let years = time_ticks(0, 30 * 365 * DAY);
        assert_eq!(years.first().map(|t| t.1.as_str()), Some("1970-01-01"));
        assert_eq!(years.get(1).map(|t| t.1.as_str()), Some("1975-01-01"));
        assert_eq!(escape("a\u{7}b"), "a\u{fffd}b");
    }
}
