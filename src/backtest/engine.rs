//! The execution model of a backtest: a stored tape of fills and resolutions, a list of
//! intents to buy (a strategy's signals or a baseline's picks), and the executor's own rules.
//!
//! Every decision goes through the executor's functions: [`risk::assess_entry`] sizes and
//! limits each entry over a [`Book`] built the executor's way, [`PaperBroker::price`] and
//! [`crate::exec::sizing::FeeModel`] price it, [`risk::stop_loss_hit`],
//! [`risk::close_by_sale`] and [`risk::close_at_payout`] end it. What the executor learns from
//! the clock and the database, this model reads off the tape:
//!
//! - An intent made by the fill at time `t` is decided at `t + latency` (its age is the
//!   latency, for the staleness check) and executes at the first trade of its token after the
//!   triggering fill and at or after `t + latency`, moved by the slippage and charged the taker
//!   fee. No such trade within `paper_price_window_seconds`: skipped for want of a price, as
//!   the paper broker would.
//! - A trade that puts an open position at or past the stop loss orders a sale, which executes
//!   at the first later trade at or after the trigger plus the latency.
//! - A resolution settles the market's positions at the payout; positions still open at the
//!   end are marked at their last trade price (no sale, no fee).
//! - The day's starting equity is taken at the first event of each UTC day, and a day halted by
//!   the daily loss stays halted until the next.
//!
//! Nothing here reads the database; the tape only holds what happened inside the period, in
//! chain order, so a decision at time `t` can only read events at or before `t`.

use std::collections::{BTreeMap, HashMap};

use rand::{rngs::StdRng, Rng, SeedableRng};
use rust_decimal::Decimal;

use super::{utc_day, ClosedTrade, Exit, RunResult};
use crate::exec::{
    broker::{PaperBroker, PaperParams, Side},
    params::Params,
    risk::{self, Book, EntryRequest, Held, Quote, SkipReason},
};

/// A position in chain order: block number, then log index.
pub type ChainPos = (i64, i32);

/// One fill of the period.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    /// Block and log index.
    pub pos: ChainPos,
    /// Block time, Unix seconds.
    pub at: i64,
    /// Index into [`Tape::tokens`].
    pub token: u32,
    /// USDC per share.
    pub price: Decimal,
    /// Index into the tape's wallets: the order's owner.
    pub wallet: u32,
    /// The owner bought.
    pub buy: bool,
}

/// A market's resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolution {
    /// Block and log index.
    pub pos: ChainPos,
    /// Block time, Unix seconds.
    pub at: i64,
    /// Index into [`Tape::markets`].
    pub market: u32,
    /// Payout per share of each outcome, by outcome index.
    pub payouts: Vec<Decimal>,
}

/// An outcome token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Token id in decimal.
    pub id: String,
    /// Index into [`Tape::markets`].
    pub market: u32,
    /// Outcome index within the market.
    pub outcome: i16,
}

/// A market (condition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Market {
    /// Condition id, `0x…`.
    pub id: String,
    /// Its tokens (indices into [`Tape::tokens`]), by outcome index.
    pub tokens: Vec<u32>,
}

/// What happened in the period: fills and resolutions in chain order.
#[derive(Debug, Clone, Default)]
pub struct Tape {
    /// Start of the period, Unix seconds.
    pub from: i64,
    /// End of the period, Unix seconds (inclusive).
    pub to: i64,
    /// Fills, in chain order.
    pub ticks: Vec<Tick>,
    /// First resolution of each market, in chain order.
    pub resolutions: Vec<Resolution>,
    /// Outcome tokens.
    pub tokens: Vec<Token>,
    /// Markets.
    pub markets: Vec<Market>,
    /// Distinct wallets seen in the fills.
    pub wallets: usize,
    pub(crate) by_token: Vec<Vec<usize>>,
}

impl Tape {
    /// Sorts the events into chain order and indexes the fills by token; call after filling
    /// the public fields.
    pub fn index(&mut self) {
        self.ticks.sort_by_key(|t| t.pos);
        self.resolutions.sort_by_key(|r| r.pos);
        let mut seen = vec![false; self.markets.len()];
        self.resolutions.retain(|r| {
            let first = !seen[r.market as usize];
            seen[r.market as usize] = true;
            first
        });
        self.by_token = vec![Vec::new(); self.tokens.len()];
        for (i, t) in self.ticks.iter().enumerate() {
            self.by_token[t.token as usize].push(i);
        }
    }

    /// The first fill of `token` after `after` in chain order and at or after time `at`.
    fn next_trade(&self, token: u32, after: ChainPos, at: i64) -> Option<usize> {
        let list = self.by_token.get(token as usize)?;
        let ticks = &self.ticks;
        // Both conditions only turn true along the chain, so one binary search finds the first.
        let i = list.partition_point(|&k| !(ticks[k].pos > after && ticks[k].at >= at));
        list.get(i).copied()
    }

    /// The token of the other outcome of a binary market.
    pub fn other_outcome(&self, token: u32) -> Option<u32> {
        let t = self.tokens.get(token as usize)?;
        let m = &self.markets[t.market as usize];
        if m.tokens.len() != 2 {
            return None;
        }
        m.tokens.iter().copied().find(|&x| x != token)
    }
}

/// A wish to buy a token, as a signal or a baseline expresses it.
#[derive(Debug, Clone, PartialEq)]
pub struct Intent {
    /// FOLLOW, FADE, or the baseline's label.
    pub action: String,
    /// Index into [`Tape::tokens`].
    pub token: u32,
    /// Kelly's p.
    pub confidence: Decimal,
    /// The triggering fill.
    pub pos: ChainPos,
    /// Its block time, Unix seconds.
    pub at: i64,
}

/// How trades are executed and limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecModel {
    /// The executor's parameters (sizing, limits, slippage, fees, price window).
    pub params: Params,
    /// Seconds from a signal's fill to the executor's decision, and from a stop-loss trigger
    /// to its sale.
    pub latency_secs: i64,
    /// Starting capital, USDC.
    pub capital: Decimal,
}

/// One decision of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// When it was made, Unix seconds: the executing trade's time for an entry or a sale.
    pub at: i64,
    /// The fill that triggered it (the signal's, or the trade that hit the stop loss).
    pub trigger: ChainPos,
    /// Token id in decimal.
    pub token: String,
    /// entry | skip | stop_loss | resolved | end
    pub kind: &'static str,
    /// The skip reason, or the entry's cap.
    pub reason: &'static str,
    /// Shares bought or sold.
    pub shares: Decimal,
    /// USDC paid (entries, fees included) or received (exits).
    pub usdc: Decimal,
}

/// A run: its closed trades and every decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// What the results layer reads.
    pub result: RunResult,
    /// Every entry, skip and exit, in order.
    pub decisions: Vec<Decision>,
}

impl Run {
    /// Decisions taken, by reason (entries by cap, skips by reason, exits by kind).
    pub fn tally(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for d in &self.decisions {
            *m.entry(format!("{} {}", d.kind, d.reason)).or_default() += 1;
        }
        m
    }
}

struct Position {
    token: u32,
    action: String,
    opened_at: i64,
    shares: Decimal,
    cost: Decimal,
    /// A stop-loss sale ordered: the trigger, and the earliest time it may execute.
    exit: Option<(usize, i64)>,
}

struct Account<'a> {
    tape: &'a Tape,
    model: &'a ExecModel,
    strategy: &'a str,
    cash: Decimal,
    open: BTreeMap<u32, Position>,
    marks: HashMap<u32, Decimal>,
    resolved: Vec<bool>,
    day: i64,
    day_start: Decimal,
    halted: bool,
    trades: Vec<ClosedTrade>,
    decisions: Vec<Decision>,
}

/// The paper broker's price and fee for one side of a token whose last trade was at `last`.
pub fn paper_quote(paper: &PaperParams, last: Decimal, side: Side) -> Quote {
    let price = PaperBroker::price(last, side, paper.slippage);
    Quote {
        price,
        fee_per_share: paper.fees.per_share(price),
    }
}

impl Account<'_> {
    fn held(&self) -> Vec<Held> {
        self.open
            .values()
            .map(|p| Held {
                shares: p.shares,
                cost: p.cost,
                mark: self.marks.get(&p.token).copied(),
            })
            .collect()
    }

    fn book(&self) -> Book {
        Book::new(self.cash, &self.held(), Some(self.day_start), self.halted)
    }

    /// The executor records the day's starting equity at its first decision of a UTC day; it
    /// decides every few seconds, so here that is the first event of the day.
    fn roll_day(&mut self, at: i64) {
        let day = utc_day(at);
        if day != self.day {
            self.day = day;
            self.day_start = Book::new(self.cash, &self.held(), None, false).equity;
            self.halted = false;
        }
    }

    fn close(&mut self, token: u32, at: i64, trigger: ChainPos, close: risk::Close, exit: Exit) {
        let Some(p) = self.open.remove(&token) else {
            return;
        };
        self.cash += close.proceeds;
        let t = &self.tape.tokens[token as usize];
        self.decisions.push(Decision {
            at,
            trigger,
            token: t.id.clone(),
            kind: match exit {
                Exit::Resolution => "resolved",
                Exit::StopLoss => "stop_loss",
                Exit::End => "end",
            },
            reason: "",
            shares: p.shares,
            usdc: close.proceeds,
        });
        self.trades.push(ClosedTrade {
            strategy: self.strategy.to_owned(),
            market_id: self.tape.markets[t.market as usize].id.clone(),
            token_id: t.id.clone(),
            action: p.action,
            opened_at: p.opened_at,
            closed_at: at,
            cost: to_f64(p.cost),
            pnl: to_f64(close.pnl),
            exit,
        });
    }

    fn resolve(&mut self, r: &Resolution) {
        let tape = self.tape;
        self.resolved[r.market as usize] = true;
        for &token in &tape.markets[r.market as usize].tokens {
            let outcome = tape.tokens[token as usize].outcome;
            let payout = usize::try_from(outcome)
                .ok()
                .and_then(|i| r.payouts.get(i))
                .copied()
                .unwrap_or_default();
            self.marks.insert(token, payout);
            if let Some(p) = self.open.get(&token) {
                let close = risk::close_at_payout(p.shares, p.cost, payout);
                self.close(token, r.at, r.pos, close, Exit::Resolution);
            }
        }
    }

    /// A trade: mark the token, execute a due stop-loss sale, order a new one.
    fn tick(&mut self, k: usize) {
        let tape = self.tape;
        let tick = &tape.ticks[k];
        self.marks.insert(tick.token, tick.price);
        let Some(p) = self.open.get_mut(&tick.token) else {
            return;
        };
        match p.exit {
            Some((trigger, due)) if k > trigger && tick.at >= due => {
                let quote = paper_quote(&self.model.params.paper, tick.price, Side::Sell);
                let fee = self.model.params.paper.fees.fee(p.shares, quote.price);
                let close = risk::close_by_sale(p.shares, p.cost, quote.price, fee);
                let trigger = tape.ticks[trigger].pos;
                self.close(tick.token, tick.at, trigger, close, Exit::StopLoss);
            }
            Some(_) => {}
            None => {
                if risk::stop_loss_hit(&self.model.params.limits, p.shares, p.cost, tick.price) {
                    p.exit = Some((k, tick.at + self.model.latency_secs));
                }
            }
        }
    }

    fn skip(&mut self, intent: &Intent, at: i64, reason: SkipReason) {
        self.decisions.push(Decision {
            at,
            trigger: intent.pos,
            token: self.tape.tokens[intent.token as usize].id.clone(),
            kind: "skip",
            reason: reason.as_str(),
            shares: Decimal::ZERO,
            usdc: Decimal::ZERO,
        });
    }

    /// An entry executing at trade `k`, decided by the executor's own assessment.
    fn enter(&mut self, intent: &Intent, k: usize) {
        let tape = self.tape;
        let tick = &tape.ticks[k];
        let market = tape.tokens[intent.token as usize].market;
        if self.resolved[market as usize] {
            return self.skip(intent, tick.at, SkipReason::NoPrice);
        }
        let book = self.book();
        let req = EntryRequest {
            confidence: intent.confidence,
            age_secs: Decimal::from(self.model.latency_secs),
            holds_token: self.open.contains_key(&intent.token),
            quote: Some(paper_quote(&self.model.params.paper, tick.price, Side::Buy)),
        };
        let p = &self.model.params;
        let a = risk::assess_entry(&p.limits, &p.sizing, &book, &req);
        let plan = match a.verdict {
            Ok(plan) => plan,
            Err(reason) => {
                if reason == SkipReason::DailyLossHalt {
                    self.halted = true;
                }
                return self.skip(intent, tick.at, reason);
            }
        };
        self.cash -= plan.stake;
        let pos = self.open.entry(intent.token).or_insert_with(|| Position {
            token: intent.token,
            action: intent.action.clone(),
            opened_at: tick.at,
            shares: Decimal::ZERO,
            cost: Decimal::ZERO,
            exit: None,
        });
        pos.shares += plan.shares;
        pos.cost += plan.stake;
        self.decisions.push(Decision {
            at: tick.at,
            trigger: intent.pos,
            token: self.tape.tokens[intent.token as usize].id.clone(),
            kind: "entry",
            reason: plan.cap.as_str(),
            shares: plan.shares,
            usdc: plan.stake,
        });
    }
}

/// Runs `intents` (in any order) over the tape under the executor's rules.
pub fn run(tape: &Tape, model: &ExecModel, strategy: &str, intents: &[Intent]) -> Run {
    let mut acct = Account {
        tape,
        model,
        strategy,
        cash: model.capital,
        open: BTreeMap::new(),
        marks: HashMap::new(),
        resolved: vec![false; tape.markets.len()],
        day: i64::MIN,
        day_start: model.capital,
        halted: false,
        trades: Vec::new(),
        decisions: Vec::new(),
    };
    let window = model
        .params
        .paper
        .price_window_secs
        .ceil()
        .try_into()
        .unwrap_or(i64::MAX);
    // Each intent's executing trade; those without one are skipped when they are decided.
    let mut at_tick: Vec<(usize, usize)> = Vec::new();
    let mut unpriced: Vec<(i64, usize)> = Vec::new();
    for (i, intent) in intents.iter().enumerate() {
        let due = intent.at + model.latency_secs;
        match tape.next_trade(intent.token, intent.pos, due) {
            Some(k) if tape.ticks[k].at - due <= window => at_tick.push((k, i)),
            _ if due <= tape.to => unpriced.push((due, i)),
            _ => {}
        }
    }
    at_tick.sort_unstable();
    unpriced.sort_unstable();
    let (mut e, mut u, mut r) = (0, 0, 0);
    for k in 0..tape.ticks.len() {
        let tick = &tape.ticks[k];
        while let Some(res) = tape.resolutions.get(r).filter(|x| x.pos < tick.pos) {
            acct.roll_day(res.at);
            acct.resolve(res);
            r += 1;
        }
        while let Some(&(due, i)) = unpriced.get(u).filter(|x| x.0 <= tick.at) {
            acct.skip(&intents[i], due, SkipReason::NoPrice);
            u += 1;
        }
        acct.roll_day(tick.at);
        acct.tick(k);
        while let Some(&(_, i)) = at_tick.get(e).filter(|x| x.0 == k) {
            acct.enter(&intents[i], k);
            e += 1;
        }
    }
    for res in &tape.resolutions[r..] {
        acct.roll_day(res.at);
        acct.resolve(res);
    }
    for &(due, i) in &unpriced[u..] {
        acct.skip(&intents[i], due, SkipReason::NoPrice);
    }
    let last = tape.ticks.last().map_or((0, 0), |t| t.pos);
    let tokens: Vec<u32> = acct.open.keys().copied().collect();
    for token in tokens {
        let p = &acct.open[&token];
        let mark = acct.marks.get(&token).copied().unwrap_or_default();
        let close = risk::close_at_payout(p.shares, p.cost, mark);
        acct.close(token, tape.to, last, close, Exit::End);
    }
    Run {
        result: RunResult {
            strategy: strategy.to_owned(),
            capital: to_f64(model.capital),
            from: tape.from,
            to: tape.to,
            trades: acct.trades,
        },
        decisions: acct.decisions,
    }
}

fn to_f64(d: Decimal) -> f64 {
    use rust_decimal::prelude::ToPrimitive;
    d.to_f64().unwrap_or(f64::NAN)
}

/// Baseline: the other outcome of each intent's market, at the same moment and confidence.
pub fn opposite(tape: &Tape, intents: &[Intent], action: &str) -> Vec<Intent> {
    intents
        .iter()
        .filter_map(|i| {
            Some(Intent {
                action: action.to_owned(),
                token: tape.other_outcome(i.token)?,
                ..i.clone()
            })
        })
        .collect()
}

/// Baseline: for each intent (a signal), a wallet drawn uniformly among those that bought in
/// the `lookback_secs` up to it, whose latest token bought there is bought at the intent's
/// moment and confidence.
/// Only fills up to the intent are read, so the draw knows nothing the signal did not.
pub fn random_wallets(
    tape: &Tape,
    anchors: &[Intent],
    lookback_secs: i64,
    seed: u64,
    action: &str,
) -> Vec<Intent> {
    let mut rng = StdRng::seed_from_u64(seed);
    let ticks = &tape.ticks;
    anchors
        .iter()
        .filter_map(|a| {
            let hi = ticks.partition_point(|t| t.pos <= a.pos);
            let lo = ticks[..hi].partition_point(|t| t.at < a.at - lookback_secs);
            let mut latest: BTreeMap<u32, usize> = BTreeMap::new();
            for (k, t) in ticks[lo..hi].iter().enumerate() {
                if t.buy {
                    latest.insert(t.wallet, lo + k);
                }
            }
            let buys: Vec<usize> = latest.into_values().collect();
            let t = &ticks[*buys.get(rng.gen_range(0..buys.len().max(1)))?];
            // Decided when the signal is, not when the copied buy was: no trade before it.
            Some(Intent {
                action: action.to_owned(),
                token: t.token,
                ..a.clone()
            })
        })
        .collect()
}

/// Baseline: every buy of the period at one confidence, with the signals' cooldown per token
/// (no second intent on a token within `cooldown_secs` of the last).
pub fn every_buy(
    tape: &Tape,
    confidence: Decimal,
    cooldown_secs: i64,
    action: &str,
) -> Vec<Intent> {
    let mut last: HashMap<u32, i64> = HashMap::new();
    tape.ticks
        .iter()
        .filter(|t| t.buy)
        .filter(|t| {
            let fresh = last
                .get(&t.token)
                .map_or(true, |&l| t.at >= l + cooldown_secs);
            if fresh {
                last.insert(t.token, t.at);
            }
            fresh
        })
        .map(|t| Intent {
            action: action.to_owned(),
            token: t.token,
            confidence,
            pos: t.pos,
            at: t.at,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::sizing::FeeModel;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    const T0: i64 = 1_700_000_000;

    fn params(slippage: &str, fee_rate: &str) -> Params {
        Params {
            sizing: crate::exec::risk::tests::sizing(),
            limits: crate::exec::risk::tests::limits(),
            paper: PaperParams {
                slippage: d(slippage),
                price_window_secs: d("300"),
                fees: FeeModel {
                    rate: d(fee_rate),
                    exponent: d("2"),
                },
            },
            paper_starting_capital: d("1000"),
        }
    }

    fn model(latency: i64) -> ExecModel {
        ExecModel {
            params: params("0", "0"),
            latency_secs: latency,
            capital: d("1000"),
        }
    }

    /// Two binary markets; token 2k is outcome 0 of market k.
    fn tape(ticks: &[(i64, u32, &str)], resolutions: &[(i64, u32, u8)]) -> Tape {
        let mut t = Tape {
            from: T0,
            to: T0 + 10 * 86_400,
            markets: (0..2)
                .map(|m| Market {
                    id: format!("0xm{m}"),
                    tokens: vec![2 * m, 2 * m + 1],
                })
                .collect(),
            tokens: (0..4)
                .map(|k| Token {
                    id: format!("{}", 100 + k),
                    market: k / 2,
                    outcome: (k % 2) as i16,
                })
                .collect(),
            wallets: 3,
            ..Tape::default()
        };
        for (n, &(at, token, price)) in ticks.iter().enumerate() {
            t.ticks.push(Tick {
                pos: (n as i64 + 1, 0),
                at: T0 + at,
                token,
                price: d(price),
                wallet: n as u32 % 3,
                buy: n % 2 == 0,
            });
        }
        for &(after_tick, market, winner) in resolutions {
            let at = t.ticks[after_tick as usize].at;
            t.resolutions.push(Resolution {
                pos: (after_tick + 1, 1),
                at,
                market,
                payouts: (0..2)
                    .map(|o| Decimal::from(u8::from(o == winner)))
                    .collect(),
            });
        }
        t.index();
        t
    }

    fn intent(token: u32, confidence: &str, pos: i64, at: i64) -> Intent {
        Intent {
            action: "FOLLOW".into(),
            token,
            confidence: d(confidence),
            pos: (pos, 0),
            at: T0 + at,
        }
    }

    #[test]
    fn an_entry_executes_at_the_first_trade_after_the_latency_and_settles_at_the_payout() {
        // The signal's fill (tick 1, t=0) at 0.40; 0.45 at t=3 is too early for a 5 s latency;
        // 0.50 at t=6 is the price. p = 0.6 at q = 0.5: quarter Kelly 0.05 of 1000 = 50 USDC,
        // 100 shares; the market resolves to outcome 0: +50.
        let t = tape(
            &[
                (0, 0, "0.40"),
                (3, 0, "0.45"),
                (6, 0, "0.50"),
                (9, 0, "0.55"),
            ],
            &[(3, 0, 0)],
        );
        let run = run(&t, &model(5), "s", &[intent(0, "0.6", 1, 0)]);
        assert_eq!(run.decisions[0].kind, "entry");
        assert_eq!(run.decisions[0].at, T0 + 6);
        assert_eq!(
            (run.decisions[0].shares, run.decisions[0].usdc),
            (d("100"), d("50"))
        );
        let tr = &run.result.trades[0];
        assert_eq!((tr.cost, tr.pnl, tr.exit), (50.0, 50.0, Exit::Resolution));
        assert_eq!((tr.opened_at, tr.closed_at), (T0 + 6, T0 + 9));
        // Without latency the next trade (0.45) is the price.
        let run0 = super::run(&t, &model(0), "s", &[intent(0, "0.6", 1, 0)]);
        assert_eq!(run0.result.trades[0].opened_at, T0 + 3);
    }

    #[test]
    fn slippage_and_the_taker_fee_are_the_paper_brokers() {
        let t = tape(&[(0, 0, "0.40"), (6, 0, "0.50")], &[]);
        let m = ExecModel {
            params: params("0.01", "0.25"),
            latency_secs: 5,
            capital: d("1000"),
        };
        let run = run(&t, &m, "s", &[intent(0, "0.6", 1, 0)]);
        // 0.50 x 1.01 = 0.505; fee per share 0.25 x (0.505 x 0.495)^2.
        let q = paper_quote(&m.params.paper, d("0.5"), Side::Buy);
        assert_eq!(q.price, d("0.505"));
        let a = risk::assess_entry(
            &m.params.limits,
            &m.params.sizing,
            &Book::new(d("1000"), &[], None, false),
            &EntryRequest {
                confidence: d("0.6"),
                age_secs: d("5"),
                holds_token: false,
                quote: Some(q),
            },
        );
        let plan = a.verdict.unwrap();
        assert_eq!(run.decisions[0].usdc, plan.stake);
        assert_eq!(run.decisions[0].shares, plan.shares);
        // Unresolved at the end: marked at the last trade, 0.50.
        let tr = &run.result.trades[0];
        assert_eq!(tr.exit, Exit::End);
        let expected = plan.shares * d("0.5") - plan.stake;
        assert!((tr.pnl - to_f64(expected)).abs() < 1e-9);
    }

    #[test]
    fn a_stop_loss_sells_at_a_later_trade_after_the_latency() {
        // Bought 100 at 0.50 (t=6); 0.42 at t=10 is -16%: sale ordered, due at t=15; the trade
        // at t=12 is too early, the one at t=20 (0.30) executes it: proceeds 30, pnl -20.
        let t = tape(
            &[
                (0, 0, "0.40"),
                (6, 0, "0.50"),
                (10, 0, "0.42"),
                (12, 0, "0.41"),
                (20, 0, "0.30"),
                (30, 0, "0.90"),
            ],
            &[],
        );
        let run = run(&t, &model(5), "s", &[intent(0, "0.6", 1, 0)]);
        let tr = &run.result.trades[0];
        assert_eq!(tr.exit, Exit::StopLoss);
        assert_eq!((tr.closed_at, tr.pnl), (T0 + 20, -20.0));
        assert_eq!(run.decisions[1].trigger, (3, 0));
    }

    #[test]
    fn no_trade_within_the_price_window_means_no_price() {
        let t = tape(&[(0, 0, "0.40"), (400, 0, "0.50"), (500, 1, "0.5")], &[]);
        let run = run(&t, &model(5), "s", &[intent(0, "0.6", 1, 0)]);
        assert!(run.result.trades.is_empty());
        assert_eq!(
            (run.decisions[0].kind, run.decisions[0].reason),
            ("skip", "no_price")
        );
        assert_eq!(run.decisions[0].at, T0 + 5);
    }

    #[test]
    fn the_limits_hold_across_entries() {
        // Four signals on four tokens: the per-signal cap (p = 0.9 at 0.1 wants 22%: capped at
        // 20% = 200), the deployed cap (50% of equity = 500: the third gets 100), then nothing.
        let t = tape(
            &[
                (0, 0, "0.1"),
                (1, 1, "0.1"),
                (2, 2, "0.1"),
                (3, 3, "0.1"),
                (10, 0, "0.1"),
                (11, 1, "0.1"),
                (12, 2, "0.1"),
                (13, 3, "0.1"),
            ],
            &[],
        );
        let intents: Vec<Intent> = (0..4)
            .map(|k| intent(k, "0.9", k as i64 + 1, k as i64))
            .collect();
        let run = run(&t, &model(5), "s", &intents);
        let stakes: Vec<(&str, &str, Decimal)> = run
            .decisions
            .iter()
            .filter(|d| d.kind == "entry" || d.kind == "skip")
            .map(|d| (d.kind, d.reason, d.usdc))
            .collect();
        assert_eq!(
            stakes,
            vec![
                ("entry", "capped_position", d("200")),
                ("entry", "capped_position", d("200")),
                ("entry", "capped_deployed", d("100")),
                ("skip", "deployed_cap", d("0")),
            ]
        );
    }

    #[test]
    fn a_daily_loss_halts_entries_until_the_next_day() {
        // 200 in token 0 at 0.1 (2000 shares); the price falls to 0.04 (-60% of 200 = -120,
        // 12% of the day's 1000): the stop loss sells and the day is halted; the next day trades.
        let day = 86_400;
        let t = tape(
            &[
                (0, 0, "0.1"),
                (6, 0, "0.1"),
                (60, 0, "0.04"),
                (70, 0, "0.04"),
                (100, 2, "0.1"),
                (200, 2, "0.1"),
                (day + 100, 2, "0.1"),
                (day + 200, 2, "0.1"),
            ],
            &[],
        );
        let intents = vec![
            intent(0, "0.9", 1, 0),
            intent(2, "0.9", 5, 100),
            intent(2, "0.9", 7, day + 100),
        ];
        let run = run(&t, &model(5), "s", &intents);
        let kinds: Vec<(&str, &str)> = run.decisions.iter().map(|d| (d.kind, d.reason)).collect();
        assert_eq!(
            kinds,
            vec![
                ("entry", "capped_position"),
                ("stop_loss", ""),
                ("skip", "daily_loss_halt"),
                ("entry", "capped_position"),
                ("end", ""),
            ]
        );
    }

    #[test]
    fn baselines_buy_the_other_outcome_random_buys_and_every_buy() {
        let t = tape(
            &[
                (0, 0, "0.4"),
                (1, 0, "0.4"),
                (2, 1, "0.6"),
                (700, 0, "0.4"),
                (701, 2, "0.5"),
            ],
            &[],
        );
        let base = vec![intent(0, "0.6", 1, 0), intent(3, "0.7", 5, 701)];
        let opp = opposite(&t, &base, "o");
        assert_eq!(
            opp.iter().map(|i| (i.token, i.pos)).collect::<Vec<_>>(),
            [(1, (1, 0)), (2, (5, 0))]
        );
        // Up to each anchor and within 600 s of it: only tick 0's buy for the first (tick 2
        // comes after it), only tick 4's for the second; the seed draws the same again.
        let r = random_wallets(&t, &base, 600, 7, "r");
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].pos, r[0].token), ((1, 0), 0));
        assert_eq!(
            (r[1].pos, r[1].token, r[1].confidence),
            ((5, 0), 2, d("0.7"))
        );
        assert_eq!(r, random_wallets(&t, &base, 600, 7, "r"));
        // Buys are ticks 0, 2 and 4 (even): tokens 0, 1 and 2 (tick 3 of token 0, 700 s
        // later, is a sale).
        let all = every_buy(&t, d("0.6"), 600, "b");
        assert_eq!(all.iter().map(|i| i.token).collect::<Vec<_>>(), [0, 1, 2]);
    }
}
