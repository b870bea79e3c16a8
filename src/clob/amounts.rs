//! Order amounts from price and size, in the integer micro-units (6 decimals) the exchange
//! signs, following the tick-size rounding of Polymarket's own clients; and the V2 taker fee.

use std::{fmt, str::FromStr};

use rust_decimal::{prelude::ToPrimitive, Decimal, RoundingStrategy};

use super::{order::Side, ClobError};

/// A market's tick size and the decimals it allows for price, size and the computed amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TickSize {
    /// The tick.
    pub tick: Decimal,
    /// Decimals of a price.
    pub price_decimals: u32,
    /// Decimals of a size (shares).
    pub size_decimals: u32,
    /// Decimals of the computed side (collateral for a limit order).
    pub amount_decimals: u32,
}

impl TickSize {
    /// The tick sizes the CLOB uses, with their (price, size, amount) decimals.
    pub const ALL: [(&'static str, u32, u32, u32); 6] = [
        ("0.1", 1, 2, 3),
        ("0.01", 2, 2, 4),
        ("0.001", 3, 2, 5),
        ("0.0001", 4, 2, 6),
        ("0.005", 3, 2, 5),
        ("0.0025", 4, 2, 6),
    ];

    /// The tick size equal to `tick` (0.01 and 0.010 are the same tick).
    pub fn from_decimal(tick: Decimal) -> Result<Self, ClobError> {
        for (t, price, size, amount) in Self::ALL {
            let d = Decimal::from_str(t).expect("constant tick");
            if d == tick {
                return Ok(TickSize {
                    tick: d,
                    price_decimals: price,
                    size_decimals: size,
                    amount_decimals: amount,
                });
            }
        }
        Err(ClobError::BadAmount(format!(
            "tick size {tick} is not one of {}",
            Self::ALL.map(|t| t.0).join(", ")
        )))
    }
}

impl FromStr for TickSize {
    type Err = ClobError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let d = Decimal::from_str(s.trim())
            .map_err(|_| ClobError::BadAmount(format!("tick size {s:?} is not a number")))?;
        Self::from_decimal(d)
    }
}

impl fmt::Display for TickSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.tick.normalize())
    }
}

/// Rounds toward zero to `dp` decimals.
pub fn round_down(x: Decimal, dp: u32) -> Decimal {
    x.round_dp_with_strategy(dp, RoundingStrategy::ToZero)
}

/// Rounds away from zero to `dp` decimals.
pub fn round_up(x: Decimal, dp: u32) -> Decimal {
    x.round_dp_with_strategy(dp, RoundingStrategy::AwayFromZero)
}

/// Rounds half to even to `dp` decimals (Python's `round` / `ROUND_HALF_EVEN`).
pub fn round_normal(x: Decimal, dp: u32) -> Decimal {
    x.round_dp_with_strategy(dp, RoundingStrategy::MidpointNearestEven)
}

/// Decimals actually used (trailing zeros do not count).
pub fn decimal_places(x: Decimal) -> u32 {
    x.normalize().scale()
}

/// × 10^6, half to even, as an integer.
pub fn to_micro(x: Decimal) -> Result<u128, ClobError> {
    round_normal(x * Decimal::from(1_000_000u32), 0)
        .to_u128()
        .ok_or_else(|| ClobError::BadAmount(format!("{x} does not fit in micro-units")))
}

fn check_price(price: Decimal, tick: TickSize) -> Result<(), ClobError> {
    if price < tick.tick || price > Decimal::ONE - tick.tick {
        return Err(ClobError::BadAmount(format!(
            "price {price} is outside {} to {} for tick size {tick}",
            tick.tick,
            Decimal::ONE - tick.tick
        )));
    }
    // The public clients round an off-tick price silently; the CLOB refuses it. Refusing here
    // keeps an executor from trading at a price it did not ask for.
    if !(price / tick.tick).fract().is_zero() {
        return Err(ClobError::BadAmount(format!(
            "price {price} is not a multiple of tick size {tick}"
        )));
    }
    Ok(())
}

/// (makerAmount, takerAmount) of a limit order in micro-units. Shares are `size` rounded down
/// to the tick's size decimals; collateral is shares × price, and if it has more decimals than
/// the tick allows it is rounded up at amount+4 decimals (which absorbs binary-float noise in
/// the public clients) and then, if still too long, down to the amount decimals. A BUY gives
/// collateral and gets shares; a SELL gives shares and gets collateral.
pub fn order_amounts(
    side: Side,
    price: Decimal,
    size: Decimal,
    tick: TickSize,
) -> Result<(u128, u128), ClobError> {
    check_price(price, tick)?;
    let shares = round_down(size, tick.size_decimals);
    if shares <= Decimal::ZERO {
        return Err(ClobError::BadAmount(format!(
            "size {size} rounds down to {shares} shares at {} decimals",
            tick.size_decimals
        )));
    }
    let mut collateral = shares * price;
    if decimal_places(collateral) > tick.amount_decimals {
        collateral = round_up(collateral, tick.amount_decimals + 4);
        if decimal_places(collateral) > tick.amount_decimals {
            collateral = round_down(collateral, tick.amount_decimals);
        }
    }
    let (shares, collateral) = (to_micro(shares)?, to_micro(collateral)?);
    Ok(match side {
        Side::Buy => (collateral, shares),
        Side::Sell => (shares, collateral),
    })
}

/// (makerAmount, takerAmount) of a market order (FOK/FAK) in micro-units, as
/// Polymarket/py-clob-client-v2 `get_market_order_amounts` builds them: the price is rounded
/// down to the tick's price decimals and reduced to a fraction n/d, and the order is a whole
/// number of n:d lots so that maker/taker is exactly the price. `amount` is collateral to spend
/// for a BUY and shares to sell for a SELL.
pub fn market_order_amounts(
    side: Side,
    price: Decimal,
    amount: Decimal,
    tick: TickSize,
) -> Result<(u128, u128), ClobError> {
    let p = round_down(price, tick.price_decimals);
    if p <= Decimal::ZERO || p >= Decimal::ONE {
        return Err(ClobError::BadAmount(format!(
            "price {price} must be above 0 and below 1"
        )));
    }
    let scale = 10u128.pow(tick.price_decimals);
    let units = (p * Decimal::from(scale))
        .trunc()
        .to_u128()
        .expect("price below 1");
    let g = gcd(units, scale);
    let (num, den) = (units / g, scale / g);
    let amount_units = to_micro(round_down(amount, tick.size_decimals))?;
    let lots = match side {
        Side::Buy => amount_units / num,
        Side::Sell => amount_units / den,
    };
    if lots == 0 {
        return Err(ClobError::BadAmount(format!(
            "amount {amount} is less than one lot at price {p}"
        )));
    }
    Ok(match side {
        Side::Buy => (lots * num, lots * den),
        Side::Sell => (lots * den, lots * num),
    })
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The V2 taker fee in collateral: shares × r × (p(1−p))^e, with (r, e) the market's `fd` from
/// `/clob-markets`. Exact for whole exponents; a fractional exponent goes through f64.
pub fn taker_fee(shares: Decimal, price: Decimal, r: Decimal, e: Decimal) -> Decimal {
    let base = price * (Decimal::ONE - price);
    let curve = if e.fract().is_zero() && e >= Decimal::ZERO && e <= Decimal::from(64) {
        let mut acc = Decimal::ONE;
        for _ in 0..e.to_u32().unwrap_or(0) {
            acc *= base;
        }
        acc
    } else {
        let f = base.to_f64().unwrap_or(0.0).powf(e.to_f64().unwrap_or(0.0));
        Decimal::from_f64_retain(f).unwrap_or(Decimal::ZERO)
    };
    shares * r * curve
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn t(s: &str) -> TickSize {
        s.parse().unwrap()
    }

    fn amounts(side: Side, price: &str, size: &str, tick: &str) -> (u128, u128) {
        order_amounts(side, d(price), d(size), t(tick)).unwrap()
    }

    #[test]
    fn tick_table() {
        assert_eq!(t("0.01").amount_decimals, 4);
        assert_eq!(t("0.010").price_decimals, 2);
        assert_eq!(t("0.005").amount_decimals, 5);
        assert_eq!(t("0.0025").price_decimals, 4);
        assert_eq!(t("0.0001").amount_decimals, 6);
        assert_eq!(t("0.1").to_string(), "0.1");
        for bad in ["0.02", "1", "abc", ""] {
            let e = bad.parse::<TickSize>().unwrap_err().to_string();
            assert!(e.starts_with("bad amount: tick size"), "{e}");
        }
    }

    #[test]
    fn limit_amounts_across_tick_sizes() {
        // Source: Polymarket/py-clob-client tests/order_builder/test_builder.py
        // (test_create_order_buy_0_1 … test_create_order_sell_0_0001: size 21.04).
        let cases = [
            ("0.1", "0.5", 10_520_000),
            ("0.01", "0.56", 11_782_400),
            ("0.001", "0.056", 1_178_240),
            ("0.0001", "0.0056", 117_824),
        ];
        for (tick, price, collateral) in cases {
            assert_eq!(
                amounts(Side::Buy, price, "21.04", tick),
                (collateral, 21_040_000),
                "BUY {price} tick {tick}"
            );
            assert_eq!(
                amounts(Side::Sell, price, "21.04", tick),
                (21_040_000, collateral),
                "SELL {price} tick {tick}"
            );
        }
    }

    #[test]
    fn limit_amounts_decimal_accuracy() {
        // Source: Polymarket/py-clob-client tests/order_builder/test_builder.py
        // (test_create_order_decimal_accuracy and _neg_risk, tick 0.01).
        let cases = [
            (Side::Buy, "0.24", "15", 3_600_000, 15_000_000),
            (Side::Sell, "0.24", "15", 15_000_000, 3_600_000),
            (Side::Buy, "0.82", "101", 82_820_000, 101_000_000),
            (Side::Sell, "0.82", "101", 101_000_000, 82_820_000),
            (Side::Buy, "0.78", "12.8205", 9_999_600, 12_820_000),
            (Side::Sell, "0.78", "12.8205", 12_820_000, 9_999_600),
            (Side::Sell, "0.39", "2435.89", 2_435_890_000, 949_997_100),
            (Side::Sell, "0.43", "19.1", 19_100_000, 8_213_000),
            (
                Side::Buy,
                "0.58",
                "18233.33",
                10_575_331_400,
                18_233_330_000,
            ),
        ];
        for (side, price, size, maker, taker) in cases {
            assert_eq!(
                amounts(side, price, size, "0.01"),
                (maker, taker),
                "{side} {price} × {size}"
            );
        }
    }

    #[test]
    fn limit_amounts_keep_cent_boundaries() {
        // Source: Polymarket/py-clob-client-v2 tests/order_builder/test_decimal_order_amounts.py
        let cases = [
            ("16.90", "0.30", 5_070_000, 16_900_000),
            ("33.30", "0.30", 9_990_000, 33_300_000),
            ("66.60", "0.15", 9_990_000, 66_600_000),
        ];
        for (size, price, collateral, shares) in cases {
            assert_eq!(
                amounts(Side::Buy, price, size, "0.01"),
                (collateral, shares)
            );
            assert_eq!(
                amounts(Side::Sell, price, size, "0.01"),
                (shares, collateral)
            );
        }
    }

    #[test]
    fn every_cent_price_and_size_gives_exact_integer_amounts() {
        // The public clients' sweep (py-clob-client test_get_order_amounts_buy_0_01 and friends)
        // asserts whole micro-units; with decimals that is automatic, so check the stronger
        // property that maker/taker is exactly the price.
        for tick in ["0.1", "0.01", "0.001", "0.0025"] {
            let ts = t(tick);
            let mut price = ts.tick;
            while price <= Decimal::ONE - ts.tick {
                for size in ["0.01", "1", "7.77", "1234.56"] {
                    let (m, tk) = order_amounts(Side::Buy, price, d(size), ts).unwrap();
                    assert_eq!(
                        Decimal::from(m),
                        Decimal::from(tk) * price,
                        "{tick} {price}"
                    );
                }
                price += ts.tick * Decimal::from(7);
            }
        }
    }

    #[test]
    fn sizes_round_down_to_cents() {
        assert_eq!(
            amounts(Side::Buy, "0.5", "10.019", "0.01"),
            (5_005_000, 10_010_000)
        );
        let e = order_amounts(Side::Buy, d("0.5"), d("0.004"), t("0.01")).unwrap_err();
        assert!(e.to_string().contains("rounds down to 0"), "{e}");
    }

    #[test]
    fn prices_outside_the_tick_grid_are_refused() {
        for (price, tick) in [
            ("0", "0.01"),
            ("1", "0.01"),
            ("0.995", "0.01"),
            ("0.555", "0.01"),
        ] {
            let e = order_amounts(Side::Buy, d(price), d("10"), t(tick)).unwrap_err();
            assert!(e.to_string().contains(&format!("price {price}")), "{e}");
        }
        assert!(order_amounts(Side::Buy, d("0.995"), d("10"), t("0.005")).is_ok());
        assert!(order_amounts(Side::Buy, d("0.9975"), d("10"), t("0.0025")).is_ok());
    }

    #[test]
    fn market_amounts_match_py_clob_client_v2() {
        // Source: Polymarket/py-clob-client-v2 tests/test_order_builder_precision.py
        assert_eq!(
            market_order_amounts(Side::Buy, d("0.936"), d("2"), t("0.001")).unwrap(),
            (1_999_998, 2_136_750)
        );
        assert_eq!(
            market_order_amounts(Side::Buy, d("0.51"), d("1.06"), t("0.01")).unwrap(),
            (1_059_984, 2_078_400)
        );
        assert_eq!(
            market_order_amounts(Side::Sell, d("0.936"), d("2"), t("0.001")).unwrap(),
            (2_000_000, 1_872_000)
        );
    }

    #[test]
    fn rounding_helpers_match_py_clob_client_v2() {
        // Source: Polymarket/py-clob-client-v2 tests/test_order_builder_precision.py and
        // Polymarket/py-clob-client tests/order_builder/test_helpers.py.
        assert_eq!(round_down(d("0.29"), 2), d("0.29"));
        assert_eq!(round_down(d("0.936000936000936"), 3), d("0.936"));
        for (x, micro) in [("0.51", 510_000), ("0.53", 530_000), ("0.47", 470_000)] {
            assert_eq!(to_micro(d(x)).unwrap(), micro);
        }
        assert_eq!(decimal_places(d("949.9970999999999")), 13);
        assert_eq!(decimal_places(d("949")), 0);
        assert_eq!(round_up(d("1.00001"), 4), d("1.0001"));
        assert_eq!(round_normal(d("0.125"), 2), d("0.12"));
        assert_eq!(round_normal(d("0.135"), 2), d("0.14"));
    }

    #[test]
    fn taker_fee_matches_py_clob_client_v2() {
        // Source: Polymarket/py-clob-client-v2 tests/test_fee_calculations.py (TestPlatformFee:
        // 100 contracts, r = 0.25, e = 2; TestProductionFeeRatesV2: $100 at r, e = 1).
        let cases = [
            ("100", "0.5", "0.25", "2", "1.5625"),
            ("100", "0.3", "0.25", "2", "1.1025"),
            ("100", "0.1", "0.25", "2", "0.2025"),
            ("100", "0.05", "0.25", "2", "0.05640625"),
            ("100", "0.01", "0.25", "2", "0.00245025"),
            ("100", "0.99", "0.25", "2", "0.00245025"),
            ("125.5", "0.5", "0.25", "2", "1.9609375"),
            ("200", "0.5", "0.03", "1", "1.5"),
            ("1000", "0.1", "0", "2", "0"),
        ];
        for (shares, p, r, e, fee) in cases {
            assert_eq!(
                taker_fee(d(shares), d(p), d(r), d(e)).normalize(),
                d(fee).normalize(),
                "{shares} @ {p}"
            );
        }
        // ($100 / 0.3) shares at r 0.072, e 1 → 5.04.
        let f = taker_fee(d("100") / d("0.3"), d("0.3"), d("0.072"), d("1"));
        assert!((f - d("5.04")).abs() < d("0.000001"), "{f}");
        let half = taker_fee(d("100"), d("0.5"), d("0.25"), d("0.5"));
        assert!((half - d("12.5")).abs() < d("0.000001"), "{half}");
    }
}
