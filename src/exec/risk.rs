//! Risk limits: what an entry may commit, when trading halts, when a position is cut.
//!
//! Plain values in, a verdict out: the executor reads the account inside one locked
//! transaction and asks these functions; a backtest asks the same ones over its own book.
//!
//! An entry passes, in this order: not stale (`signal_ttl_seconds`), trading enabled
//! (`trading_enabled`), no daily-loss halt (`daily_loss_limit`), a free position slot unless
//! the token is already held (`max_open_positions`), a price, an edge (Kelly > 0), then its
//! stake is cut to the per-signal cap (`max_position_fraction` of equity, inside the sizing),
//! to the room left under `max_deployed_fraction` of equity, and to the cash; under
//! `min_order_usdc` it is skipped.

use rust_decimal::Decimal;

use super::sizing::{self, SizingParams};

/// The limits (strategy.parameters of the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RiskLimits {
    /// Kill switch: false skips every entry.
    pub trading_enabled: bool,
    /// Signals older than this (seconds since the triggering fill) are skipped as stale.
    pub signal_ttl_secs: Decimal,
    /// At most this many open positions.
    pub max_open_positions: u32,
    /// At most this share of equity in open positions, at cost.
    pub max_deployed_fraction: Decimal,
    /// A position this far below its average cost is sold (0.15 = -15%).
    pub stop_loss: Decimal,
    /// Entries halt for the day once equity is this far below the day's start (0.10 = -10%).
    pub daily_loss_limit: Decimal,
    /// Smallest order, USDC.
    pub min_order_usdc: Decimal,
}

/// One open position as the limits see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    /// Shares held.
    pub shares: Decimal,
    /// USDC paid for them, fees included.
    pub cost: Decimal,
    /// Its mark (last trade price, or the payout once resolved); None: valued at cost.
    pub mark: Option<Decimal>,
}

/// The account when a decision is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Book {
    /// Cash, USDC.
    pub cash: Decimal,
    /// Cash plus open positions at their marks.
    pub equity: Decimal,
    /// Open positions at cost.
    pub deployed: Decimal,
    /// Open positions.
    pub open_positions: u32,
    /// Equity at the start of the (UTC) day.
    pub day_start_equity: Decimal,
    /// Entries already halted today.
    pub halted_today: bool,
}

impl Book {
    /// The book of an account with `cash` and these open positions; `day_start_equity` None
    /// means the day starts now (at this equity).
    pub fn new(
        cash: Decimal,
        held: &[Held],
        day_start_equity: Option<Decimal>,
        halted_today: bool,
    ) -> Book {
        let value: Decimal = held
            .iter()
            .map(|h| h.mark.map_or(h.cost, |m| h.shares * m))
            .sum();
        let equity = cash + value;
        Book {
            cash,
            equity,
            deployed: held.iter().map(|h| h.cost).sum(),
            open_positions: held.len() as u32,
            day_start_equity: day_start_equity.unwrap_or(equity),
            halted_today,
        }
    }

    /// The book with `reserved` USDC held back for live orders not yet filled: that money left
    /// cash but still belongs to the account, so it counts in equity (at cost) and as deployed,
    /// and each token it is for counts as a position (`new_tokens`: those not already held).
    pub fn with_reserved(mut self, reserved: Decimal, new_tokens: u32) -> Book {
        self.equity += reserved;
        self.deployed += reserved;
        self.open_positions += new_tokens;
        self
    }

    /// Equity now minus equity at the start of the day.
    pub fn daily_pnl(&self) -> Decimal {
        self.equity - self.day_start_equity
    }
}

/// A broker's price for buying now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quote {
    /// USDC per share, before fees.
    pub price: Decimal,
    /// Taker fee per share at that price.
    pub fee_per_share: Decimal,
}

impl Quote {
    /// What one share costs with its fee: the `q` of the Kelly formula.
    pub fn all_in(&self) -> Decimal {
        self.price + self.fee_per_share
    }
}

/// A signal as an entry decision sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRequest {
    /// The signal's confidence: Kelly's p.
    pub confidence: Decimal,
    /// Seconds since the triggering fill.
    pub age_secs: Decimal,
    /// An open position in this token exists already (adding to it opens no new slot).
    pub holds_token: bool,
    /// The broker's quote; None when there is no recent price.
    pub quote: Option<Quote>,
}

/// Why an entry was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// The triggering fill is older than signal_ttl_seconds.
    Stale,
    /// trading_enabled is 0.
    KillSwitch,
    /// The day's loss reached daily_loss_limit.
    DailyLossHalt,
    /// max_open_positions positions are open.
    MaxOpenPositions,
    /// No recent trade to price the order.
    NoPrice,
    /// The price leaves no edge at this confidence (Kelly <= 0).
    NoEdge,
    /// max_deployed_fraction leaves less room than min_order_usdc.
    DeployedCap,
    /// Less cash than min_order_usdc.
    NoCash,
    /// The sized order is under min_order_usdc.
    TooSmall,
    /// The broker could not make the order (the decision's detail says why).
    OrderFailed,
}

impl SkipReason {
    /// The name recorded in exec.decisions.reason.
    pub fn as_str(&self) -> &'static str {
        match self {
            SkipReason::Stale => "stale",
            SkipReason::KillSwitch => "kill_switch",
            SkipReason::DailyLossHalt => "daily_loss_halt",
            SkipReason::MaxOpenPositions => "max_open_positions",
            SkipReason::NoPrice => "no_price",
            SkipReason::NoEdge => "no_edge",
            SkipReason::DeployedCap => "deployed_cap",
            SkipReason::NoCash => "no_cash",
            SkipReason::TooSmall => "too_small",
            SkipReason::OrderFailed => "order_failed",
        }
    }
}

/// Which limit, if any, cut a placed entry's stake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    /// The Kelly stake as it was.
    None,
    /// max_position_fraction.
    Position,
    /// max_deployed_fraction.
    Deployed,
    /// The cash.
    Cash,
}

impl Cap {
    /// The name recorded in exec.decisions.reason for a placed entry.
    pub fn as_str(&self) -> &'static str {
        match self {
            Cap::None => "sized",
            Cap::Position => "capped_position",
            Cap::Deployed => "capped_deployed",
            Cap::Cash => "capped_cash",
        }
    }
}

/// An entry to place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryPlan {
    /// Shares to buy (2 decimals).
    pub shares: Decimal,
    /// USDC for the shares, before the fee.
    pub cost: Decimal,
    /// Taker fee, USDC.
    pub fee: Decimal,
    /// cost + fee.
    pub stake: Decimal,
    /// Which limit cut it.
    pub cap: Cap,
}

/// The verdict on an entry, with the sizing numbers it got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assessment {
    /// Full Kelly f*, when a price was known.
    pub kelly: Option<Decimal>,
    /// f* x kelly_fraction clamped to [0, max_position_fraction].
    pub fraction: Option<Decimal>,
    /// Place this, or skip for this reason.
    pub verdict: Result<EntryPlan, SkipReason>,
}

/// True when the day's loss has reached the limit: equity <= start x (1 - daily_loss_limit).
pub fn daily_loss_hit(limits: &RiskLimits, book: &Book) -> bool {
    book.day_start_equity > Decimal::ZERO
        && book.daily_pnl() <= -(limits.daily_loss_limit * book.day_start_equity)
}

/// True when a position marked at `mark` is down by the stop-loss or more against its cost:
/// shares x mark <= cost x (1 - stop_loss).
pub fn stop_loss_hit(limits: &RiskLimits, shares: Decimal, cost: Decimal, mark: Decimal) -> bool {
    shares > Decimal::ZERO
        && cost > Decimal::ZERO
        && shares * mark <= cost * (Decimal::ONE - limits.stop_loss)
}

/// Decides an entry: checks every limit in order and sizes the order.
pub fn assess_entry(
    limits: &RiskLimits,
    sizing: &SizingParams,
    book: &Book,
    req: &EntryRequest,
) -> Assessment {
    let skip = |reason| Assessment {
        kelly: None,
        fraction: None,
        verdict: Err(reason),
    };
    if req.age_secs > limits.signal_ttl_secs {
        return skip(SkipReason::Stale);
    }
    if !limits.trading_enabled {
        return skip(SkipReason::KillSwitch);
    }
    if book.halted_today || daily_loss_hit(limits, book) {
        return skip(SkipReason::DailyLossHalt);
    }
    if !req.holds_token && book.open_positions >= limits.max_open_positions {
        return skip(SkipReason::MaxOpenPositions);
    }
    let Some(quote) = req.quote else {
        return skip(SkipReason::NoPrice);
    };
    let q = quote.all_in();
    let kelly = sizing::kelly(req.confidence, q);
    let fraction = sizing::position_fraction(req.confidence, q, sizing);
    let with = |verdict| Assessment {
        kelly,
        fraction: Some(fraction),
        verdict,
    };
    if fraction <= Decimal::ZERO {
        return with(Err(SkipReason::NoEdge));
    }
    let mut cap =
        if kelly.unwrap_or_default() * sizing.kelly_fraction > sizing.max_position_fraction {
            Cap::Position
        } else {
            Cap::None
        };
    let mut budget = fraction * book.equity;
    let room = limits.max_deployed_fraction * book.equity - book.deployed;
    if room < limits.min_order_usdc {
        return with(Err(SkipReason::DeployedCap));
    }
    if budget > room {
        budget = room;
        cap = Cap::Deployed;
    }
    if book.cash < limits.min_order_usdc {
        return with(Err(SkipReason::NoCash));
    }
    if budget > book.cash {
        budget = book.cash;
        cap = Cap::Cash;
    }
    let mut shares = sizing::shares_for(budget, q);
    let step = Decimal::new(1, 2);
    let plan = loop {
        let cost = sizing::usdc(shares * quote.price);
        let fee = sizing::usdc(shares * quote.fee_per_share);
        // Rounding each amount to the micro-USDC can overshoot the budget by a micro-unit: one
        // hundredth of a share less then keeps every limit exact.
        if cost + fee > budget && shares > Decimal::ZERO {
            shares -= step;
            continue;
        }
        break EntryPlan {
            shares,
            cost,
            fee,
            stake: cost + fee,
            cap,
        };
    };
    if plan.shares <= Decimal::ZERO || plan.stake < limits.min_order_usdc {
        return with(Err(SkipReason::TooSmall));
    }
    with(Ok(plan))
}

/// What closing a position brings in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Close {
    /// USDC received, net of the fee.
    pub proceeds: Decimal,
    /// Fee paid on the sale, USDC.
    pub fee: Decimal,
    /// proceeds - cost.
    pub pnl: Decimal,
}

/// Selling `shares` that cost `cost` at `price`, paying `fee` (a stop-loss exit).
pub fn close_by_sale(shares: Decimal, cost: Decimal, price: Decimal, fee: Decimal) -> Close {
    let proceeds = sizing::usdc(shares * price) - fee;
    Close {
        proceeds,
        fee,
        pnl: proceeds - cost,
    }
}

/// Settling `shares` that cost `cost` at the market's payout per share (no fee).
pub fn close_at_payout(shares: Decimal, cost: Decimal, payout: Decimal) -> Close {
    let proceeds = sizing::usdc(shares * payout);
    Close {
        proceeds,
        fee: Decimal::ZERO,
        pnl: proceeds - cost,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    /// The parameters' defaults (migration V21), for tests here and in the backtest.
    pub(crate) fn limits() -> RiskLimits {
        RiskLimits {
            trading_enabled: true,
            signal_ttl_secs: d("180"),
            max_open_positions: 5,
            max_deployed_fraction: d("0.5"),
            stop_loss: d("0.15"),
            daily_loss_limit: d("0.10"),
            min_order_usdc: d("1"),
        }
    }

    /// Kelly sizing at its defaults.
    pub(crate) fn sizing() -> SizingParams {
        SizingParams {
            kelly_fraction: d("0.25"),
            max_position_fraction: d("0.20"),
        }
    }

    fn flat(cash: &str) -> Book {
        Book::new(d(cash), &[], None, false)
    }

    fn req(p: &str, price: &str) -> EntryRequest {
        EntryRequest {
            confidence: d(p),
            age_secs: d("5"),
            holds_token: false,
            quote: Some(Quote {
                price: d(price),
                fee_per_share: Decimal::ZERO,
            }),
        }
    }

    fn placed(a: &Assessment) -> EntryPlan {
        a.verdict.unwrap_or_else(|r| panic!("skipped: {r:?}"))
    }

    #[test]
    fn a_kelly_stake_within_every_limit_is_placed_as_sized() {
        let a = assess_entry(&limits(), &sizing(), &flat("10000"), &req("0.6", "0.5"));
        assert_eq!(a.kelly, Some(d("0.2")));
        assert_eq!(a.fraction, Some(d("0.05")));
        let p = placed(&a);
        assert_eq!(
            (p.shares, p.cost, p.fee, p.stake, p.cap),
            (d("1000"), d("500"), d("0"), d("500"), Cap::None)
        );
    }

    #[test]
    fn with_fees_the_all_in_price_sizes_the_order() {
        // q = 0.5 + 0.015625; f* = (0.6 - q) / (1 - q) = 0.1741935…; x 0.25 = 0.0435483…;
        // budget 435.4838…; shares floor(435.4838 / 0.515625, 2) = 844.57; cost 422.285; fee
        // 844.57 x 0.015625 = 13.19640625 -> 13.196406.
        let mut r = req("0.6", "0.5");
        r.quote = Some(Quote {
            price: d("0.5"),
            fee_per_share: d("0.015625"),
        });
        let a = assess_entry(&limits(), &sizing(), &flat("10000"), &r);
        assert_eq!(a.kelly.unwrap().round_dp(8), d("0.17419355"));
        let p = placed(&a);
        assert_eq!(
            (p.shares, p.cost, p.fee, p.stake),
            (d("844.57"), d("422.285"), d("13.196406"), d("435.481406"))
        );
    }

    #[test]
    fn the_per_signal_cap_holds_20_percent_of_equity() {
        // p = 0.9 at 0.1: quarter Kelly 0.2222 > 0.20: stake 2000 of 10000.
        let a = assess_entry(&limits(), &sizing(), &flat("10000"), &req("0.9", "0.1"));
        let p = placed(&a);
        assert_eq!(
            (p.shares, p.stake, p.cap),
            (d("20000"), d("2000"), Cap::Position)
        );
    }

    #[test]
    fn the_deployed_cap_cuts_and_then_refuses() {
        // 4500 of 10000 equity deployed (cost = marks): room 500; Kelly wants 2000.
        let held = [Held {
            shares: d("9000"),
            cost: d("4500"),
            mark: Some(d("0.5")),
        }];
        let book = Book::new(d("5500"), &held, None, false);
        assert_eq!((book.equity, book.deployed), (d("10000"), d("4500")));
        let p = placed(&assess_entry(
            &limits(),
            &sizing(),
            &book,
            &req("0.9", "0.1"),
        ));
        assert_eq!((p.stake, p.cap), (d("500"), Cap::Deployed));
        // 4999.5 deployed: room 0.5 < min order 1.
        let held = [Held {
            shares: d("9999"),
            cost: d("4999.5"),
            mark: Some(d("0.5")),
        }];
        let book = Book::new(d("5000.5"), &held, None, false);
        let a = assess_entry(&limits(), &sizing(), &book, &req("0.9", "0.1"));
        assert_eq!(a.verdict, Err(SkipReason::DeployedCap));
    }

    #[test]
    fn cash_bounds_the_stake() {
        // Equity 10000 but only 300 in cash (the rest in a position marked far above cost).
        let held = [Held {
            shares: d("10000"),
            cost: d("1000"),
            mark: Some(d("0.97")),
        }];
        let book = Book::new(d("300"), &held, None, false);
        let p = placed(&assess_entry(
            &limits(),
            &sizing(),
            &book,
            &req("0.9", "0.1"),
        ));
        assert_eq!((p.stake, p.cap), (d("300"), Cap::Cash));
        let book = Book::new(d("0.5"), &held, None, false);
        let a = assess_entry(&limits(), &sizing(), &book, &req("0.9", "0.1"));
        assert_eq!(a.verdict, Err(SkipReason::NoCash));
    }

    #[test]
    fn max_open_positions_blocks_a_sixth_but_not_an_addition() {
        let held = [Held {
            shares: d("100"),
            cost: d("50"),
            mark: Some(d("0.5")),
        }; 5];
        let book = Book::new(d("9750"), &held, None, false);
        let a = assess_entry(&limits(), &sizing(), &book, &req("0.6", "0.5"));
        assert_eq!(a.verdict, Err(SkipReason::MaxOpenPositions));
        let mut add = req("0.6", "0.5");
        add.holds_token = true;
        assert!(assess_entry(&limits(), &sizing(), &book, &add)
            .verdict
            .is_ok());
        // Four open: the fifth is allowed.
        let book = Book::new(d("9800"), &held[..4], None, false);
        assert!(
            assess_entry(&limits(), &sizing(), &book, &req("0.6", "0.5"))
                .verdict
                .is_ok()
        );
    }

    #[test]
    fn daily_loss_halts_at_ten_percent_and_not_before() {
        // Day started at 10000; equity 9000.01 is -9.9999%: trading goes on.
        let at = |equity: &str| Book::new(d(equity), &[], Some(d("10000")), false);
        assert!(!daily_loss_hit(&limits(), &at("9000.01")));
        assert!(
            assess_entry(&limits(), &sizing(), &at("9000.01"), &req("0.6", "0.5"))
                .verdict
                .is_ok()
        );
        // 9000 is exactly -10%: halted.
        assert!(daily_loss_hit(&limits(), &at("9000")));
        let a = assess_entry(&limits(), &sizing(), &at("9000"), &req("0.6", "0.5"));
        assert_eq!(a.verdict, Err(SkipReason::DailyLossHalt));
        // Once halted, a recovery the same day does not resume trading.
        let recovered = Book::new(d("10500"), &[], Some(d("10000")), true);
        let a = assess_entry(&limits(), &sizing(), &recovered, &req("0.6", "0.5"));
        assert_eq!(a.verdict, Err(SkipReason::DailyLossHalt));
    }

    #[test]
    fn kill_switch_stale_no_price_no_edge_too_small() {
        let off = RiskLimits {
            trading_enabled: false,
            ..limits()
        };
        let book = flat("10000");
        assert_eq!(
            assess_entry(&off, &sizing(), &book, &req("0.6", "0.5")).verdict,
            Err(SkipReason::KillSwitch)
        );
        let mut old = req("0.6", "0.5");
        old.age_secs = d("180.001");
        assert_eq!(
            assess_entry(&limits(), &sizing(), &book, &old).verdict,
            Err(SkipReason::Stale)
        );
        old.age_secs = d("180");
        assert!(assess_entry(&limits(), &sizing(), &book, &old)
            .verdict
            .is_ok());
        let mut unpriced = req("0.6", "0.5");
        unpriced.quote = None;
        assert_eq!(
            assess_entry(&limits(), &sizing(), &book, &unpriced).verdict,
            Err(SkipReason::NoPrice)
        );
        let a = assess_entry(&limits(), &sizing(), &book, &req("0.6", "0.65"));
        assert_eq!(a.verdict, Err(SkipReason::NoEdge));
        assert_eq!(a.fraction, Some(d("0")));
        // 10 USDC of equity: quarter Kelly 0.05 = 0.5 USDC < 1.
        let a = assess_entry(&limits(), &sizing(), &flat("10"), &req("0.6", "0.5"));
        assert_eq!(a.verdict, Err(SkipReason::TooSmall));
    }

    #[test]
    fn stop_loss_at_fifteen_percent_below_cost() {
        // 1000 shares that cost 500 (avg 0.5): 0.425 is exactly -15%.
        assert!(!stop_loss_hit(&limits(), d("1000"), d("500"), d("0.426")));
        assert!(stop_loss_hit(&limits(), d("1000"), d("500"), d("0.425")));
        assert!(stop_loss_hit(&limits(), d("1000"), d("500"), d("0.1")));
        assert!(!stop_loss_hit(&limits(), d("0"), d("0"), d("0.1")));
    }

    #[test]
    fn closing_by_sale_and_at_the_payout() {
        let c = close_by_sale(d("1000"), d("500"), d("0.42"), d("10"));
        assert_eq!((c.proceeds, c.fee, c.pnl), (d("410"), d("10"), d("-90")));
        let c = close_at_payout(d("1000"), d("505"), d("1"));
        assert_eq!((c.proceeds, c.fee, c.pnl), (d("1000"), d("0"), d("495")));
        let c = close_at_payout(d("1000"), d("505"), d("0"));
        assert_eq!(c.pnl, d("-505"));
    }
}
