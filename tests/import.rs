//! Integration tests of `indexer import` against a real Postgres.

mod common;

use common::{fixture, import_file, scalar_i64, strings, temp_file, TestDb};
use orderflow::{bench::SynthFills, chain::RawLog};

#[tokio::test]
async fn mixed_v1_v2_import_maps_every_fill_to_its_market() {
    let db = TestDb::new().await;
    let lines: Vec<String> = SynthFills::new(3_000, 1).map(|l| l.to_json()).collect();
    let path = temp_file("mixed", &lines);
    let s = import_file(&db, &path, 500).await;
    let c = db.client().await;
    assert_eq!(s.stored.get("order_filled"), Some(&3_000), "{s}");
    assert!(s.stored.get("condition_preparation").copied().unwrap_or(0) > 0);
    assert_eq!(s.quarantined + s.bad_lines + s.duplicates, 0, "{s}");
    let v1 = scalar_i64(&c, "SELECT count(*) FROM trades WHERE version = 1").await;
    let v2 = scalar_i64(&c, "SELECT count(*) FROM trades WHERE version = 2").await;
    assert!(v1 > 0 && v2 > 0 && v1 + v2 == 3_000, "v1 {v1} v2 {v2}");
    // Every traded token maps to a market and outcome derived on chain.
    assert_eq!(
        scalar_i64(
            &c,
            "SELECT count(*) FROM trades WHERE market_id IS NULL OR outcome_index IS NULL"
        )
        .await,
        0
    );
    // V1 and V2 rules give the same price/size/usdc relation.
    assert_eq!(
        scalar_i64(
            &c,
            "SELECT count(*) FROM trades WHERE abs(price * size - usdc) > 0.01"
        )
        .await,
        0
    );
    // Wallet totals agree with the trades they summarise.
    assert_eq!(
        scalar_i64(&c, "SELECT sum(total_trades)::bigint FROM wallets").await,
        3_000
    );
    let pairs = c
        .query(
            "SELECT w.total_volume = t.v FROM wallets w JOIN (SELECT wallet_address, sum(usdc) v FROM trades GROUP BY 1) t USING (wallet_address)",
            &[],
        )
        .await
        .unwrap();
    assert!(pairs.iter().all(|r| r.get::<_, bool>(0)));
    std::fs::remove_file(path).ok();
}

#[tokio::test]
async fn real_mainnet_logs_read_correctly_in_trades() {
    let db = TestDb::new().await;
    let s = import_file(&db, &fixture("mainnet_logs.jsonl"), 1_000).await;
    assert_eq!(s.stored_total(), 14, "{s}");
    let c = db.client().await;
    // V1 BUY 17.7 shares for 7.434 USDC, fee 1.77 shares = 0.7434 USDC at 0.42.
    let r = c
        .query_one(
            "SELECT side, price::text, size::text, usdc::text, fee::text, role, wallet_address FROM trades \
             WHERE tx_hash = '0x31d5dca405136cb4ed09bcf817d2b6c2ce1331b18d4b5738eae2e76f7e73e391'",
            &[],
        )
        .await
        .unwrap();
    let got: (String, String, String, String, String, String, String) = (
        r.get(0),
        r.get(1),
        r.get(2),
        r.get(3),
        r.get(4),
        r.get(5),
        r.get(6),
    );
    assert_eq!(
        got,
        (
            "BUY".into(),
            "0.420000".into(),
            "17.700000".into(),
            "7.434000".into(),
            "0.743400".into(),
            "maker".into(),
            "0x00000003a358014c7c0e227483dbe01619871000".into()
        )
    );
    // V2 taker SELL of 6 shares at 0.48 with a 0.10483 USDC fee.
    let r = c
        .query_one(
            "SELECT side, price::text, fee::text, role FROM trades WHERE tx_hash = '0x4137856c9f4b7b4fdd488c986527d5eacca02997477d5cb07a170db25e7480d9'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            r.get::<_, String>(0),
            r.get::<_, String>(1),
            r.get::<_, String>(2),
            r.get::<_, String>(3)
        ),
        (
            "SELL".into(),
            "0.480000".into(),
            "0.104830".into(),
            "taker".into()
        )
    );
    // The resolution reads as outcome 0 winning.
    let r = c
        .query_one(
            "SELECT winning_outcome_index, winning_outcome, is_split FROM market_outcomes",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            r.get::<_, Option<i32>>(0),
            r.get::<_, Option<String>>(1),
            r.get::<_, bool>(2)
        ),
        (Some(0), Some("YES".into()), false)
    );
}

#[tokio::test]
async fn taker_fill_and_maker_fills_of_one_match() {
    let db = TestDb::new().await;
    import_file(&db, &fixture("mainnet_logs.jsonl"), 1_000).await;
    let c = db.client().await;
    let tx = "0x73ca58d58325b5cbb369588671844dd555dcb33723497e96097b196b8bdfdcd8";
    let rows = c
        .query(
            "SELECT role, side, wallet_address, counterparty, usdc::text FROM trades WHERE tx_hash = $1 ORDER BY log_index",
            &[&tx],
        )
        .await
        .unwrap();
    let got: Vec<(String, String, String, String, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "maker".into(),
                "SELL".into(),
                "0x3cf3e8d5427aed066a7a5926980600f6c3cf87b3".into(),
                "0xd42f6a1634a3707e27cbae14ca966068e5d1047d".into(),
                "3.300000".into()
            ),
            (
                "taker".into(),
                "BUY".into(),
                "0xd42f6a1634a3707e27cbae14ca966068e5d1047d".into(),
                "0xc5d563a36ae78145c45a50134d48a1215220f80a".into(),
                "3.300000".into()
            ),
        ]
    );
    // Volume counts the match once: the taker fill only.
    let vol: String = c
        .query_one(
            "SELECT sum(usdc)::text FROM trades WHERE tx_hash = $1 AND role = 'taker'",
            &[&tx],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(vol, "3.300000");
    // And it equals the OrdersMatched amounts.
    assert_eq!(
        scalar_i64(&c, "SELECT maker_amount FROM chain.orders_matched").await,
        3_300_000
    );
}

#[tokio::test]
async fn reimporting_a_file_changes_nothing() {
    let db = TestDb::new().await;
    let lines: Vec<String> = SynthFills::new(2_000, 2).map(|l| l.to_json()).collect();
    let path = temp_file("twice", &lines);
    let first = import_file(&db, &path, 700).await;
    let c = db.client().await;
    let snapshot = "SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM (\
        SELECT block_number, log_index, maker, token_id, maker_amount FROM chain.order_filled UNION ALL \
        SELECT 0, 0, wallet, total_trades, total_volume FROM flow.wallet_totals UNION ALL \
        SELECT block_number, log_index, condition_id, token_id, outcome_index FROM market.tokens) t";
    let before: String = c.query_one(snapshot, &[]).await.unwrap().get(0);
    let second = import_file(&db, &path, 300).await;
    let after: String = c.query_one(snapshot, &[]).await.unwrap().get(0);
    assert_eq!(before, after);
    assert_eq!(second.stored_total(), 0, "{second}");
    assert_eq!(second.duplicates, first.stored_total());
    assert_eq!(second.tokens, 0);
    std::fs::remove_file(path).ok();
}

#[tokio::test]
async fn repeated_and_overlapping_logs_are_stored_once() {
    let db = TestDb::new().await;
    let lines: Vec<String> = SynthFills::new(3_000, 4).map(|l| l.to_json()).collect();
    // Fresh ranges take the direct COPY path; a log repeated inside one batch must still land
    // once (the batch falls back to the staged insert).
    let mut first: Vec<String> = lines[..2_000].to_vec();
    first.insert(1_500, lines[1_499].clone());
    let a = temp_file("repeat_a", &first);
    let s = import_file(&db, &a, 5_000).await;
    assert_eq!(s.duplicates, 1, "{s}");
    // A second file overlapping the tail of the first: only the new logs are added.
    let b = temp_file("repeat_b", &lines[1_800..]);
    let s = import_file(&db, &b, 400).await;
    assert_eq!(s.duplicates, 200, "{s}");
    let c = db.client().await;
    let fills = 3_000;
    assert_eq!(
        scalar_i64(&c, "SELECT count(*) FROM chain.order_filled").await,
        fills
    );
    assert_eq!(
        scalar_i64(
            &c,
            "SELECT sum(total_trades)::bigint FROM flow.wallet_totals"
        )
        .await,
        fills
    );
    std::fs::remove_file(a).ok();
    std::fs::remove_file(b).ok();
}

#[tokio::test]
async fn malformed_lines_and_logs_are_reported_and_the_rest_lands() {
    let db = TestDb::new().await;
    let good: Vec<String> = std::fs::read_to_string(fixture("mainnet_logs.jsonl"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let mut short_topics = RawLog::from_json(&good[0]).unwrap();
    short_topics.topics.pop();
    short_topics.log_index += 10_000;
    let mut short_data = RawLog::from_json(&good[3]).unwrap();
    short_data.data.truncate(40);
    short_data.log_index += 10_000;
    let mut lines = vec![
        good[0].clone(),
        "this is not json".to_string(),
        good[1].clone(),
    ];
    lines.push(r#"{"address":"0xZZ","topics":[],"data":"0x","blockNumber":"0x1","transactionHash":"0x00","logIndex":"0x0"}"#.into());
    lines.push(short_topics.to_json());
    lines.push(short_data.to_json());
    lines.extend(good[2..].iter().cloned());
    let path = temp_file("bad", &lines);
    let s = import_file(&db, &path, 4).await;
    assert_eq!(s.bad_lines, 2, "{s}");
    assert_eq!(s.quarantined, 2, "{s}");
    assert_eq!(s.stored_total(), 14, "{s}");
    let c = db.client().await;
    let reasons: Vec<String> = strings(
        &c,
        "SELECT reason FROM chain.bad_logs ORDER BY block_number",
    )
    .await;
    assert_eq!(
        reasons,
        vec![
            "OrderFilled: expected 4 topics, got 3".to_string(),
            "OrderFilled: data is 40 bytes, expected 224".to_string()
        ]
    );
    std::fs::remove_file(path).ok();
}

/// V1 TokenRegistered alone (no ConditionPreparation) still maps both tokens to their outcome,
/// by derivation; here with the subgraph's published standard-market vector.
#[tokio::test]
async fn token_registered_maps_tokens_by_derivation() {
    let db = TestDb::new().await;
    let reg = format!(
        r#"{{"address":"0x4bfb41d5b3570defd03c39a9a4d8de6bd8b8982e","topics":["0xbc9a2432e8aeb48327246cddd6e872ef452812b4243c04e6bfb786a2cd8faf0d","{}","{}","0xfc690d5069b296bb9278af0cba42c02666e0999e4a4009ed97ea4a885f045457"],"data":"0x","blockNumber":"0x2000000","transactionHash":"0x{}","logIndex":"0x1"}}"#,
        "0x0663cd86ded663c742aa2526279f30d19cdf797c32e3f8da9a878ff737adf905",
        "0xa2f9dfa97533d1139db0e79e2888791e4d2229a5933c64657caa107e89c20e44",
        "11".repeat(32)
    );
    let path = temp_file("reg", &[reg]);
    let s = import_file(&db, &path, 10).await;
    assert_eq!(s.tokens, 2, "{s}");
    let c = db.client().await;
    let rows = c
        .query("SELECT token_id::text, outcome_index, neg_risk FROM market.tokens ORDER BY outcome_index", &[])
        .await
        .unwrap();
    let got: Vec<(String, i16, bool)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "73716170047628147940237270507900673332129573201293655532643868111690843426372"
                    .into(),
                0,
                false
            ),
            (
                "2890213445014127424511466931609154310536269586265875141655148162320150952197"
                    .into(),
                1,
                false
            ),
        ]
    );
    let outcomes: Vec<String> = c
        .query_one("SELECT outcomes FROM markets", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(outcomes, vec!["YES".to_string(), "NO".to_string()]);
    std::fs::remove_file(path).ok();
}

#[tokio::test]
async fn wallet_filter_on_the_view_uses_an_index() {
    let db = TestDb::new().await;
    let lines: Vec<String> = SynthFills::new(2_000, 3).map(|l| l.to_json()).collect();
    let path = temp_file("explain", &lines);
    import_file(&db, &path, 1_000).await;
    let c = db.client().await;
    c.batch_execute("ANALYZE; SET enable_seqscan = off")
        .await
        .unwrap();
    let plan: Vec<String> = c
        .query("EXPLAIN SELECT * FROM trades WHERE wallet_address = '0x00000000000000000000000000000000000000aa'", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let plan = plan.join("\n");
    assert!(plan.contains("maker_hex"), "{plan}");
    assert!(!plan.contains("Seq Scan on order_filled"), "{plan}");
    // The import filled its partitions with their primary keys only, then built the rest.
    let unindexed = "SELECT count(*) FROM chain.partitions WHERE NOT indexed";
    assert_eq!(scalar_i64(&c, unindexed).await, 0);
    std::fs::remove_file(path).ok();
}
