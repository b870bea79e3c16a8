//! The live indexer against a real anvil node: backfill, head following with reorgs, dropped
//! WebSockets, crashes, and a flaky provider.

mod common;

use std::{sync::Arc, time::Duration};

use common::TestDb;
use orderflow::{
    anvil::Anvil,
    bench::SynthFills,
    chain::{contracts::addr, contracts::known, events, Contracts, RawLog},
    ingest::{follow, FollowOptions, FollowSummary, Writer},
    metrics::Metrics,
    rpc::{LogFilter, RpcClient, RpcOptions},
};

/// Anvil with the relay at every default contract address.
async fn anvil() -> Anvil {
    let a = Anvil::start()
        .await
        .expect("start anvil (make tools installs it)");
    a.install_relay(&Contracts::default().addresses())
        .await
        .unwrap();
    a
}

fn synth(fills: u64, seed: u64) -> Vec<RawLog> {
    SynthFills::new(fills, seed).collect()
}

fn opts(to: Option<u64>) -> FollowOptions {
    FollowOptions {
        to_block: to,
        initial_span: 7,
        max_span: 50,
        target_logs: 300,
        batch_logs: 500,
        concurrency: 3,
        reorg_window: 16,
        poll_interval: Duration::from_millis(100),
        ..FollowOptions::default()
    }
}

fn client(url: &str) -> RpcClient {
    RpcClient::new(
        url,
        RpcOptions {
            timeout: Duration::from_secs(5),
            backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(500),
            ..RpcOptions::default()
        },
    )
    .unwrap()
}

async fn run_follow(db: &TestDb, url: &str, o: FollowOptions) -> FollowSummary {
    let mut w = Writer::new(db.client().await).await.unwrap();
    follow(
        client(url),
        &mut w,
        o,
        Arc::new(Metrics::default()),
        std::future::pending(),
    )
    .await
    .unwrap()
}

/// Fingerprint of what the node holds: every log's (block, index, tx) and its count.
async fn node_fingerprint(a: &Anvil) -> (String, i64) {
    let head = a.head().await.unwrap();
    let filter = LogFilter {
        addresses: Contracts::default().addresses(),
        topics0: events::topics0(),
    };
    let logs = a.rpc.get_logs(&filter, 0, head).await.unwrap();
    let mut keys: Vec<String> = logs
        .iter()
        .map(|l| {
            format!(
                "{}:{}:{}",
                l.block_number,
                l.log_index,
                orderflow::chain::hex::encode(&l.tx_hash)
            )
        })
        .collect();
    keys.sort();
    (keys.join(","), keys.len() as i64)
}

/// The same fingerprint of the database (every event table plus quarantined logs).
async fn db_fingerprint(db: &TestDb) -> (String, i64) {
    let c = db.client().await;
    let union: String = c
        .query_one(
            "SELECT string_agg(format('SELECT block_number, log_index, tx_hash FROM %s', c.oid::regclass), ' UNION ALL ') \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'chain' AND c.relkind IN ('r', 'p') AND NOT c.relispartition \
               AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tx_hash')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let rows = c
        .query(
            &format!("SELECT block_number || ':' || log_index || ':0x' || encode(tx_hash, 'hex') FROM ({union}) u"),
            &[],
        )
        .await
        .unwrap();
    let mut keys: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    keys.sort();
    (keys.join(","), keys.len() as i64)
}

async fn assert_db_equals_node(db: &TestDb, a: &Anvil) {
    let (node, n) = node_fingerprint(a).await;
    let (ours, m) = db_fingerprint(db).await;
    assert_eq!(m, n, "row count: database {m}, node {n}");
    assert!(node == ours, "database and node differ");
}

#[tokio::test]
async fn relay_emits_the_logs_it_is_given_from_the_real_addresses() {
    let a = anvil().await;
    let logs = synth(40, 3);
    a.publish(&logs).await.unwrap();
    let filter = LogFilter {
        addresses: Contracts::default().addresses(),
        topics0: events::topics0(),
    };
    let got = a
        .rpc
        .get_logs(&filter, 0, a.head().await.unwrap())
        .await
        .unwrap();
    assert_eq!(got.len(), logs.len());
    for (g, l) in got.iter().zip(&logs) {
        assert_eq!(
            (g.address, &g.topics, &g.data),
            (l.address, &l.topics, &l.data)
        );
    }
    assert!(got.iter().any(|l| l.address == known(addr::CTF)));
}

#[tokio::test]
async fn backfill_equals_the_nodes_own_get_logs() {
    let a = anvil().await;
    a.publish(&synth(3_000, 5)).await.unwrap();
    a.mine_empty(40).await.unwrap();
    let db = TestDb::new().await;
    let head = a.head().await.unwrap();
    let s = run_follow(&db, &a.url, opts(Some(head))).await;
    assert_eq!(s.cursor, Some(head), "{s}");
    assert_db_equals_node(&db, &a).await;
    let c = db.client().await;
    let fills = common::scalar_i64(&c, "SELECT count(*) FROM trades").await;
    assert_eq!(fills, 3_000);
    // Block times came from the node.
    assert_eq!(
        common::scalar_i64(
            &c,
            "SELECT count(*) FROM chain.order_filled WHERE block_time IS NULL"
        )
        .await,
        0
    );
    // Running again changes nothing and starts from the cursor.
    let again = run_follow(&db, &a.url, opts(Some(head))).await;
    assert_eq!(again.logs, 0, "{again}");
    assert_db_equals_node(&db, &a).await;
}
