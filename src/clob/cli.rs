//! `orderflow order …`: sign one order, or compute an order's amounts, from the shell.

use std::{io::Read, path::PathBuf, str::FromStr};

use clap::{Args, Subcommand};
use ethers::types::Address;
use rust_decimal::Decimal;

use super::{
    amounts::{market_order_amounts, order_amounts, TickSize},
    order::{Domain, Order, OrderVersion, Side},
    secret::PrivateKey,
    ClobError, POLYGON,
};

/// The environment variable holding the hex private key when no key file is given.
pub const KEY_ENV: &str = "POLY_PRIVATE_KEY";

/// Order tools.
#[derive(Debug, Subcommand)]
pub enum OrderCommand {
    /// Sign one order read as JSON on stdin (EIP-712 field names); prints
    /// {"orderHash":"0x…","signature":"0x…"}. The key comes from --key-file, else from the
    /// environment variable POLY_PRIVATE_KEY.
    Sign(SignArgs),
    /// The makerAmount and takerAmount (micro-units) of an order at this price and size.
    Amounts(AmountsArgs),
}

/// How to sign.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// Order version: 1 (history), 2 or 3.
    #[arg(long = "version", env = "ORDERFLOW_ORDER_VERSION", default_value = "2")]
    pub order_version: String,
    /// Chain id.
    #[arg(long, env = "ORDERFLOW_CHAIN_ID", default_value_t = POLYGON)]
    pub chain_id: u64,
    /// The verifying exchange (default: the CTF exchange of the version, or its neg-risk
    /// exchange with --neg-risk).
    #[arg(long, env = "ORDERFLOW_EXCHANGE")]
    pub exchange: Option<String>,
    /// The market trades on the neg-risk exchange.
    #[arg(long, env = "ORDERFLOW_NEG_RISK")]
    pub neg_risk: bool,
    /// File holding the hex private key (default: the key in POLY_PRIVATE_KEY).
    #[arg(long, env = "ORDERFLOW_KEY_FILE", hide_env_values = true)]
    pub key_file: Option<PathBuf>,
}

/// An order's price and size.
#[derive(Debug, Args)]
pub struct AmountsArgs {
    /// BUY or SELL.
    #[arg(long, env = "ORDERFLOW_ORDER_SIDE")]
    pub side: String,
    /// Price per share, a multiple of the tick.
    #[arg(long, env = "ORDERFLOW_ORDER_PRICE")]
    pub price: String,
    /// Shares (for --market: collateral to spend on a BUY, shares to sell on a SELL).
    #[arg(long, env = "ORDERFLOW_ORDER_SIZE")]
    pub size: String,
    /// The market's tick size: 0.1, 0.01, 0.001, 0.0001, 0.005 or 0.0025.
    #[arg(long, env = "ORDERFLOW_TICK_SIZE")]
    pub tick: String,
    /// A market order (FOK/FAK): whole lots at exactly the price.
    #[arg(long, env = "ORDERFLOW_ORDER_MARKET")]
    pub market: bool,
}

/// Runs one order command, printing its one JSON line on stdout.
pub fn run(cmd: OrderCommand) -> anyhow::Result<()> {
    let line = match cmd {
        OrderCommand::Sign(args) => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| ClobError::BadOrder(format!("reading stdin: {e}")))?;
            let key = match &args.key_file {
                Some(path) => PrivateKey::from_file(path)?,
                None => PrivateKey::from_env(KEY_ENV)?,
            };
            sign(&args, &text, &key)?
        }
        OrderCommand::Amounts(args) => amounts(&args)?,
    };
    println!("{line}");
    Ok(())
}

/// The `sign` output for one order JSON.
pub fn sign(args: &SignArgs, order_json: &str, key: &PrivateKey) -> Result<String, ClobError> {
    if order_json.trim().is_empty() {
        return Err(ClobError::BadOrder(
            "no order JSON on stdin (expected one object with EIP-712 field names)".into(),
        ));
    }
    let version = OrderVersion::from_str(&args.order_version)?;
    let domain = match &args.exchange {
        Some(a) => Domain {
            version,
            chain_id: args.chain_id,
            verifying_contract: parse_exchange(a)?,
        },
        None => Domain::for_market(version, args.chain_id, args.neg_risk)?,
    };
    let order = Order::from_json(order_json)?;
    let signed = order.sign(&domain, key)?;
    Ok(format!(
        r#"{{"orderHash":"{}","signature":"{}"}}"#,
        signed.hash_hex(),
        signed.signature_hex()
    ))
}

/// The `amounts` output.
pub fn amounts(args: &AmountsArgs) -> Result<String, ClobError> {
    let side = Side::from_str(&args.side)
        .map_err(|_| ClobError::BadAmount(format!("side {:?}: expected BUY or SELL", args.side)))?;
    let dec = |name: &str, v: &str| {
        Decimal::from_str(v.trim())
            .map_err(|_| ClobError::BadAmount(format!("{name} {v:?} is not a decimal number")))
    };
    let price = dec("price", &args.price)?;
    let size = dec("size", &args.size)?;
    let tick = TickSize::from_str(&args.tick)?;
    let (maker, taker) = if args.market {
        market_order_amounts(side, price, size, tick)?
    } else {
        order_amounts(side, price, size, tick)?
    };
    Ok(format!(
        r#"{{"makerAmount":"{maker}","takerAmount":"{taker}"}}"#
    ))
}

fn parse_exchange(a: &str) -> Result<Address, ClobError> {
    let h = a.strip_prefix("0x").unwrap_or("");
    if h.len() != 40 || !h.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(ClobError::BadOrder(format!(
            "--exchange {a:?} is not a 0x address of 20 bytes"
        )));
    }
    a.parse()
        .map_err(|_| ClobError::BadOrder(format!("--exchange {a:?} is not an address")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(version: &str, chain_id: u64, neg_risk: bool, exchange: Option<&str>) -> SignArgs {
        SignArgs {
            order_version: version.into(),
            chain_id,
            exchange: exchange.map(str::to_owned),
            neg_risk,
            key_file: None,
        }
    }

    const V1_ORDER: &str = r#"{"salt":"479249096354","maker":"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        "signer":"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        "taker":"0x0000000000000000000000000000000000000000","tokenId":"1234",
        "makerAmount":"100000000","takerAmount":"50000000","expiration":"0","nonce":"0",
        "feeRateBps":"100","side":"BUY","signatureType":0}"#;

    #[test]
    fn sign_prints_hash_and_signature() {
        // Vector: Polymarket/py-clob-client-v2 tests/order_utils/test_exchange_order_builder_v1.py
        let key = PrivateKey::from_hex(
            "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
        )
        .unwrap();
        let by_default = sign(&args("1", 80002, false, None), V1_ORDER, &key).unwrap();
        let explicit = sign(
            &args(
                "1",
                80002,
                false,
                Some("0xdFE02Eb6733538f8Ea35D585af8DE5958AD99E40"),
            ),
            V1_ORDER,
            &key,
        )
        .unwrap();
        assert_eq!(by_default, explicit);
        assert_eq!(
            by_default,
            "{\"orderHash\":\"0x02ca1d1aa31103804173ad1acd70066cb6c1258a4be6dada055111f9a7ea4e55\",\
             \"signature\":\"0x302cd9abd0b5fcaa202a344437ec0b6660da984e24ae9ad915a592a90facf5a51bb8\
             a873cd8d270f070217fea1986531d5eec66f1162a81f66e026db653bf7ce1c\"}"
        );
        let e = sign(&args("1", 80002, false, Some("0x12")), V1_ORDER, &key).unwrap_err();
        assert!(e.to_string().contains("--exchange"), "{e}");
        let e = sign(&args("2", 80002, false, None), "  ", &key).unwrap_err();
        assert!(e.to_string().contains("no order JSON"), "{e}");
        let e = sign(&args("9", 80002, false, None), V1_ORDER, &key).unwrap_err();
        assert!(e.to_string().contains("order version"), "{e}");
    }

    #[test]
    fn amounts_prints_micro_units() {
        let a = |side: &str, price: &str, size: &str, tick: &str, market: bool| {
            amounts(&AmountsArgs {
                side: side.into(),
                price: price.into(),
                size: size.into(),
                tick: tick.into(),
                market,
            })
        };
        // Vector: Polymarket/py-clob-client tests/order_builder/test_builder.py
        assert_eq!(
            a("BUY", "0.56", "21.04", "0.01", false).unwrap(),
            r#"{"makerAmount":"11782400","takerAmount":"21040000"}"#
        );
        // Vector: Polymarket/py-clob-client-v2 tests/test_order_builder_precision.py
        assert_eq!(
            a("BUY", "0.936", "2", "0.001", true).unwrap(),
            r#"{"makerAmount":"1999998","takerAmount":"2136750"}"#
        );
        for (bad, want) in [
            (a("HOLD", "0.5", "1", "0.01", false), "side"),
            (a("BUY", "half", "1", "0.01", false), "price \"half\""),
            (a("BUY", "0.5", "1", "0.02", false), "tick size 0.02"),
        ] {
            let e = bad.unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
    }
}
