//! Position sizing: fractional Kelly for a binary outcome token, and the V2 taker fee.
//!
//! Plain functions over values read from the database, so the executor and a backtest size
//! every signal with exactly the same arithmetic.
//!
//! Buying a share at all-in price `q` (price plus fee per share) that pays 1 with probability
//! `p`: the net odds are `b = (1 - q) / q` and the Kelly fraction of capital is
//! `f* = (p(b + 1) - 1) / b`, which for this bet equals `(p - q) / (1 - q)`. The executor takes
//! `f* x kelly_fraction`, clamped to `[0, max_position_fraction]`.

use rust_decimal::{Decimal, MathematicalOps, RoundingStrategy};

/// Sizing parameters (strategy.parameters `kelly_fraction`, `max_position_fraction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizingParams {
    /// Share of the full Kelly stake taken (0.25 = quarter Kelly).
    pub kelly_fraction: Decimal,
    /// Largest share of equity committed on one signal.
    pub max_position_fraction: Decimal,
}

/// The net odds `b = (1 - q) / q` of buying at price `q`; None outside (0, 1), where there is
/// no bet to make.
pub fn net_odds(q: Decimal) -> Option<Decimal> {
    if q <= Decimal::ZERO || q >= Decimal::ONE {
        return None;
    }
    Some((Decimal::ONE - q) / q)
}

/// The full Kelly fraction `f* = (p(b + 1) - 1) / b` for win probability `p` at price `q`;
/// negative when the price leaves no edge, None when `q` is not in (0, 1).
pub fn kelly(p: Decimal, q: Decimal) -> Option<Decimal> {
    let b = net_odds(q)?;
    Some((p * (b + Decimal::ONE) - Decimal::ONE) / b)
}

/// The share of equity to commit: `kelly(p, q) x kelly_fraction`, clamped to
/// `[0, max_position_fraction]` (0 when there is no edge or no valid price).
pub fn position_fraction(p: Decimal, q: Decimal, params: &SizingParams) -> Decimal {
    let Some(f) = kelly(p, q) else {
        return Decimal::ZERO;
    };
    (f * params.kelly_fraction)
        .max(Decimal::ZERO)
        .min(params.max_position_fraction.max(Decimal::ZERO))
}

/// The V2 taker fee parameters: `fee = shares x rate x (p(1 - p))^exponent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeModel {
    /// r (strategy.parameters `taker_fee_rate`).
    pub rate: Decimal,
    /// e (strategy.parameters `taker_fee_exponent`).
    pub exponent: Decimal,
}

impl FeeModel {
    /// Fee per share at price `p`, unrounded: `rate x (p(1 - p))^exponent`.
    pub fn per_share(&self, p: Decimal) -> Decimal {
        let base = (p * (Decimal::ONE - p)).max(Decimal::ZERO);
        if self.rate.is_zero() || base.is_zero() {
            return Decimal::ZERO;
        }
        let pow = if self.exponent.fract().is_zero() && self.exponent >= Decimal::ZERO {
            let e = self.exponent.trunc().try_into().unwrap_or(i64::MAX);
            base.powi(e)
        } else {
            base.powd(self.exponent)
        };
        self.rate * pow
    }

    /// The fee in USDC for `shares` at price `p`, rounded to the cent's ten-thousandth
    /// (6 decimals, USDC's unit) half away from zero, as Postgres rounds.
    pub fn fee(&self, shares: Decimal, p: Decimal) -> Decimal {
        usdc(shares * self.per_share(p))
    }
}

/// An amount rounded to USDC's 6 decimals, half away from zero (as Postgres `round`).
pub fn usdc(x: Decimal) -> Decimal {
    x.round_dp_with_strategy(6, RoundingStrategy::MidpointAwayFromZero)
}

/// Shares affordable with `budget` USDC at `all_in` USDC per share, rounded down to the CLOB's
/// 2 decimals of size.
pub fn shares_for(budget: Decimal, all_in: Decimal) -> Decimal {
    if all_in <= Decimal::ZERO || budget <= Decimal::ZERO {
        return Decimal::ZERO;
    }
    (budget / all_in).round_dp_with_strategy(2, RoundingStrategy::ToZero)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn quarter() -> SizingParams {
        SizingParams {
            kelly_fraction: d("0.25"),
            max_position_fraction: d("0.20"),
        }
    }

    #[test]
    fn even_odds_kelly_is_twice_the_edge() {
        // p = 0.6 at q = 0.5: b = 1, f* = (0.6 * 2 - 1) / 1 = 0.2.
        assert_eq!(net_odds(d("0.5")), Some(d("1")));
        assert_eq!(kelly(d("0.6"), d("0.5")), Some(d("0.2")));
        assert_eq!(position_fraction(d("0.6"), d("0.5"), &quarter()), d("0.05"));
    }

    #[test]
    fn kelly_at_a_cheap_price() {
        // p = 0.6 at q = 0.2: b = 4, f* = (0.6 * 5 - 1) / 4 = 0.5 = (p - q) / (1 - q).
        assert_eq!(net_odds(d("0.2")), Some(d("4")));
        assert_eq!(kelly(d("0.6"), d("0.2")), Some(d("0.5")));
        assert_eq!(
            position_fraction(d("0.6"), d("0.2"), &quarter()),
            d("0.125")
        );
        // p = 0.85 at q = 0.25: b = 3, f* = (0.85 * 4 - 1) / 3 = 0.8; x 0.25 = 0.2, at the cap.
        assert_eq!(kelly(d("0.85"), d("0.25")), Some(d("0.8")));
        assert_eq!(
            position_fraction(d("0.85"), d("0.25"), &quarter()),
            d("0.2")
        );
    }

    #[test]
    fn the_fraction_is_clamped_to_the_position_cap() {
        // p = 0.9 at q = 0.1: f* = (0.9 - 0.1) / 0.9 = 0.888…; x 0.25 = 0.222… > 0.20.
        let f = kelly(d("0.9"), d("0.1")).unwrap();
        assert_eq!(f.round_dp(6), d("0.888889"));
        assert_eq!(position_fraction(d("0.9"), d("0.1"), &quarter()), d("0.20"));
        // Full Kelly with no cap but the position cap at 1.
        let full = SizingParams {
            kelly_fraction: d("1"),
            max_position_fraction: d("1"),
        };
        assert_eq!(position_fraction(d("0.6"), d("0.5"), &full), d("0.2"));
    }

    #[test]
    fn no_edge_means_no_stake() {
        // At the fair price f* = 0; above it negative; both give 0.
        assert_eq!(kelly(d("0.5"), d("0.5")), Some(d("0")));
        // (p - q) / (1 - q) = -0.1 / 0.3.
        assert_eq!(
            kelly(d("0.6"), d("0.7")).map(|k| k.round_dp(9)),
            Some(d("-0.333333333"))
        );
        assert_eq!(position_fraction(d("0.6"), d("0.7"), &quarter()), d("0"));
        // No valid price, no bet.
        assert_eq!(kelly(d("0.6"), d("1")), None);
        assert_eq!(kelly(d("0.6"), d("0")), None);
        assert_eq!(position_fraction(d("0.6"), d("1.2"), &quarter()), d("0"));
    }

    #[test]
    fn taker_fee_follows_the_v2_formula() {
        let fees = FeeModel {
            rate: d("0.25"),
            exponent: d("2"),
        };
        // At 0.5: 0.25 * 0.25^2 = 0.015625 per share.
        assert_eq!(fees.per_share(d("0.5")), d("0.015625"));
        // 844.58 shares: 13.1965625 -> 13.196563 (half away from zero).
        assert_eq!(fees.fee(d("844.58"), d("0.5")), d("13.196563"));
        // At 0.9: 0.25 * 0.09^2 = 0.002025.
        assert_eq!(fees.per_share(d("0.9")), d("0.002025"));
        // Exponent 1: r * p(1-p).
        let linear = FeeModel {
            rate: d("0.1"),
            exponent: d("1"),
        };
        assert_eq!(linear.per_share(d("0.2")), d("0.016"));
        // A fractional exponent: 0.25^0.5 = 0.5.
        let root = FeeModel {
            rate: d("1"),
            exponent: d("0.5"),
        };
        assert_eq!(root.per_share(d("0.5")).round_dp(6), d("0.5"));
        // No fee at the edges or with a zero rate.
        assert_eq!(fees.per_share(d("1")), d("0"));
        let free = FeeModel {
            rate: d("0"),
            exponent: d("2"),
        };
        assert_eq!(free.fee(d("100"), d("0.5")), d("0"));
    }

    #[test]
    fn shares_round_down_to_cents_of_a_share() {
        assert_eq!(shares_for(d("500"), d("0.5")), d("1000"));
        assert_eq!(shares_for(d("435.4838709677"), d("0.515625")), d("844.57"));
        assert_eq!(shares_for(d("1"), d("0.3")), d("3.33"));
        assert_eq!(shares_for(d("0"), d("0.3")), d("0"));
        assert_eq!(shares_for(d("10"), d("0")), d("0"));
    }
}
