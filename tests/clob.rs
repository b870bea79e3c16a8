//! `orderflow order sign` and `orderflow order amounts` as a user runs them: the built binary,
//! public test vectors of Polymarket's own clients, and bad input.

use std::{
    io::Write,
    process::{Command, Output, Stdio},
};

// Hardhat/anvil account #0: publicly known; Polymarket's clients sign their test vectors with it.
const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ADDR: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

fn orderflow(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orderflow"));
    cmd.args(args)
        .env_remove("POLY_PRIVATE_KEY")
        .env_remove("ORDERFLOW_ORDER_VERSION")
        .env_remove("ORDERFLOW_CHAIN_ID")
        .env_remove("ORDERFLOW_EXCHANGE")
        .env_remove("ORDERFLOW_NEG_RISK")
        .env_remove("ORDERFLOW_KEY_FILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run orderflow");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}, stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn failed(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// The order of Polymarket/py-clob-client-v2 tests/order_utils/test_exchange_order_builder_v1.py.
fn v1_order() -> String {
    format!(
        r#"{{"salt":479249096354,"maker":"{ADDR}","signer":"{ADDR}",
            "taker":"0x0000000000000000000000000000000000000000","tokenId":"1234",
            "makerAmount":"100000000","takerAmount":"50000000","expiration":"0","nonce":"0",
            "feeRateBps":"100","side":"BUY","signatureType":0}}"#
    )
}

#[test]
fn sign_v1_matches_py_clob_client_v2() {
    // Source: Polymarket/py-clob-client-v2 tests/order_utils/test_exchange_order_builder_v1.py
    // (test_build_signed_order_specific_salt, chain 80002, CTF exchange 0xdFE02Eb6…E40).
    let out = orderflow(
        &["order", "sign", "--version", "1", "--chain-id", "80002"],
        &[("POLY_PRIVATE_KEY", KEY)],
        &v1_order(),
    );
    assert_eq!(
        ok(&out),
        "{\"orderHash\":\"0x02ca1d1aa31103804173ad1acd70066cb6c1258a4be6dada055111f9a7ea4e55\",\
         \"signature\":\"0x302cd9abd0b5fcaa202a344437ec0b6660da984e24ae9ad915a592a90facf5a51bb8a873\
         cd8d270f070217fea1986531d5eec66f1162a81f66e026db653bf7ce1c\"}\n"
    );
}

#[test]
fn sign_v1_neg_risk_from_a_key_file_and_env_twins() {
    // Source: Polymarket/py-clob-client-v2 tests/order_utils/test_exchange_order_builder_v1.py
    // (TestExchangeOrderBuilderV1NegRisk, exchange 0xC5d563A3…f80a).
    let dir = std::env::temp_dir().join(format!("orderflow-clob-{}", std::process::id()));
    std::fs::write(&dir, format!("{}\n", &KEY[2..])).unwrap();
    let out = orderflow(
        &[
            "order",
            "sign",
            "--neg-risk",
            "--key-file",
            dir.to_str().unwrap(),
        ],
        &[
            ("ORDERFLOW_ORDER_VERSION", "1"),
            ("ORDERFLOW_CHAIN_ID", "80002"),
        ],
        &v1_order(),
    );
    std::fs::remove_file(&dir).ok();
    assert_eq!(
        ok(&out),
        "{\"orderHash\":\"0xf15790d3edc4b5aed427b0b543a9206fcf4b1a13dfed016d33bfb313076263b8\",\
         \"signature\":\"0x1b3646ef347e5bd144c65bd3357ba19c12c12abaeedae733cf8579bc51a2752c0454c3bc\
         6b236957e393637982c769b8dc0706c0f5c399983d933850afd1cbcd1c\"}\n"
    );
}

#[test]
fn sign_v2_deposit_wallet_matches_py_clob_client_v2() {
    // Source: Polymarket/py-clob-client-v2 tests/order_utils/test_exchange_order_builder_v2.py
    // (test_build_signed_order_poly_1271_matches_expected_signature: order_hash and the start
    // of EXPECTED_POLY_1271_SIGNATURE, the 65-byte inner signature and domain separator).
    let wallet = "0x1111111111111111111111111111111111111111";
    let zero = format!("0x{}", "0".repeat(64));
    let order = format!(
        r#"{{"salt":"479249096354","maker":"{wallet}","signer":"{wallet}","tokenId":"1234",
            "makerAmount":"100000000","takerAmount":"50000000","side":"BUY","signatureType":3,
            "timestamp":"1710000000000","metadata":"{zero}","builder":"{zero}"}}"#
    );
    let out = orderflow(
        &["order", "sign", "--chain-id", "80002"],
        &[("POLY_PRIVATE_KEY", KEY)],
        &order,
    );
    let line = ok(&out);
    assert!(
        line.starts_with(
            "{\"orderHash\":\"0x2afca94626db91b2d556c351584a4cd93e13da32e377dc48c7983e43afa5ab47\",\
             \"signature\":\"0xa3a093c83b6c20c83355c16ce94c92e6e9fcbdeb840618cc74f6c57a42ad145b\
             2b98db73d2c73cbf1f2b6af288566ae81960ddbc3a13921027358a8bff3be6ff1c\
             a440cbd865bc0c6243d7a8df9a8bf48a8827b0a4abbb61c30e96d305423af148"
        ),
        "{line}"
    );
    assert!(line.ends_with("6d657461646174612c62797465733332206275696c6465722900ba\"}\n"));
}

#[test]
fn sign_v2_and_v3_differ_and_default_to_polygon() {
    let order = format!(
        r#"{{"salt":1,"maker":"{ADDR}","tokenId":"1234","makerAmount":"5000000",
            "takerAmount":"10000000","side":0,"timestamp":1710000000000}}"#
    );
    let env = [("POLY_PRIVATE_KEY", KEY)];
    let v2 = ok(&orderflow(&["order", "sign"], &env, &order));
    let v2_explicit = ok(&orderflow(
        &[
            "order",
            "sign",
            "--version",
            "2",
            "--exchange",
            "0xE111180000d2663C0091e4f400237545B87B996B",
        ],
        &env,
        &order,
    ));
    let v3 = ok(&orderflow(
        &["order", "sign", "--version", "3"],
        &env,
        &order,
    ));
    assert_eq!(v2, v2_explicit);
    assert_ne!(v2, v3);
    let v: serde_json::Value = serde_json::from_str(&v3).unwrap();
    assert_eq!(v.as_object().unwrap().len(), 2);
    assert_eq!(v["signature"].as_str().unwrap().len(), 132);
}

#[test]
fn sign_rejects_bad_input_with_one_line() {
    let env = [("POLY_PRIVATE_KEY", KEY)];
    // (extra arguments, environment, stdin, what the error must say)
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, String, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![],
            env.to_vec(),
            "{\"salt\":".into(),
            "bad order: not JSON",
        ),
        (
            vec![],
            env.to_vec(),
            v1_order().replace("feeRateBps", "feeRate"),
            "unknown field \"feeRate\"",
        ),
        (
            vec![],
            vec![],
            v1_order(),
            "missing private key: set POLY_PRIVATE_KEY",
        ),
        (
            vec!["--key-file", "/nonexistent/orderflow.key"],
            vec![],
            v1_order(),
            "cannot read key file /nonexistent/orderflow.key",
        ),
        (
            vec![],
            vec![("POLY_PRIVATE_KEY", "0x1234")],
            v1_order(),
            "private key: POLY_PRIVATE_KEY: expected 64 hex digits",
        ),
        (
            vec!["--version", "2"],
            env.to_vec(),
            v1_order(),
            "V2/V3 orders need \"timestamp\"",
        ),
    ];
    for (extra, env, stdin, want) in cases {
        let mut args = vec!["order", "sign"];
        if !extra.contains(&"--version") {
            args.extend(["--version", "1"]);
        }
        args.extend(extra);
        let err = failed(&orderflow(&args, &env, &stdin));
        assert!(err.starts_with("error: "), "{err}");
        assert!(err.contains(want), "want {want:?} in {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(!err.contains(&KEY[2..]), "the key leaked: {err}");
    }
}

#[test]
fn amounts_follow_py_clob_client() {
    // Source: Polymarket/py-clob-client tests/order_builder/test_builder.py
    // (test_create_order_buy_0_001 / test_create_order_decimal_accuracy).
    let run = |args: &[&str]| {
        let mut a = vec!["order", "amounts"];
        a.extend_from_slice(args);
        orderflow(&a, &[], "")
    };
    assert_eq!(
        ok(&run(&[
            "--side", "BUY", "--price", "0.056", "--size", "21.04", "--tick", "0.001"
        ])),
        "{\"makerAmount\":\"1178240\",\"takerAmount\":\"21040000\"}\n"
    );
    assert_eq!(
        ok(&run(&[
            "--side", "SELL", "--price", "0.39", "--size", "2435.89", "--tick", "0.01"
        ])),
        "{\"makerAmount\":\"2435890000\",\"takerAmount\":\"949997100\"}\n"
    );
    // Source: Polymarket/py-clob-client-v2 tests/test_order_builder_precision.py
    assert_eq!(
        ok(&run(&[
            "--side", "BUY", "--price", "0.51", "--size", "1.06", "--tick", "0.01", "--market"
        ])),
        "{\"makerAmount\":\"1059984\",\"takerAmount\":\"2078400\"}\n"
    );
    let err = failed(&run(&[
        "--side", "BUY", "--price", "0.5", "--size", "10", "--tick", "0.02",
    ]));
    assert!(
        err.starts_with("error: bad amount: tick size 0.02"),
        "{err}"
    );
    let err = failed(&run(&[
        "--side", "BUY", "--price", "0.555", "--size", "10", "--tick", "0.01",
    ]));
    assert!(err.contains("not a multiple of tick size 0.01"), "{err}");
}
