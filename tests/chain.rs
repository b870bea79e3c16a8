//! The live indexer against a real anvil node: backfill, head following with reorgs, dropped
//! WebSockets, crashes, and a flaky provider.

mod common;

use std::{sync::Arc, time::Duration};

use common::TestDb;
use orderflow::anvil::publish_sim as publish_sim_blocks;
use orderflow::{
    anvil::Anvil,
    bench::SynthFills,
    chain::{contracts::addr, contracts::known, events, Contracts, RawLog},
    ingest::{follow, FollowOptions, FollowSummary, Writer},
    metrics::Metrics,
    rpc::{LogFilter, RpcClient, RpcOptions},
    sim::{Sim, SimConfig},
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
    w.derive_alongside(db.client().await).await.unwrap();
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

/// Derived data followed every insert and unwind: wallet totals count the fills that remain.
async fn assert_wallet_totals_match_fills(c: &tokio_postgres::Client) {
    assert_eq!(
        common::scalar_i64(
            c,
            "SELECT coalesce(sum(total_trades), 0)::bigint FROM flow.wallet_totals"
        )
        .await,
        common::scalar_i64(c, "SELECT count(*) FROM chain.order_filled").await
    );
}

/// The indexer's cursor, if it has one yet.
async fn cursor(c: &tokio_postgres::Client) -> Option<u64> {
    c.query_opt(
        "SELECT block_number FROM chain.cursor WHERE name = 'indexer'",
        &[],
    )
    .await
    .unwrap()
    .map(|r| r.get::<_, i64>(0) as u64)
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

/// Publishes a small simulated market (every event kind) onto the node.
async fn publish_sim(a: &Anvil, blocks: u64, seed: u64) -> (u64, u64) {
    let cfg = SimConfig {
        seed,
        markets: 12,
        wallets: 120,
        blocks,
        cutover_block: SimConfig::default().start_block + blocks / 2,
        ..SimConfig::default()
    };
    let sim = Sim::new(cfg).unwrap();
    publish_sim_blocks(&a.url, sim, Duration::ZERO, std::future::pending())
        .await
        .unwrap()
}

/// Waits until the cursor reaches the node's head (and the head stays put).
async fn caught_up(db: &TestDb, a: &Anvil) {
    let c = db.client().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let head = a.head().await.unwrap();
        let cursor = cursor(&c).await;
        if cursor == Some(head) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "cursor {cursor:?} never reached head {head}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A follower running in the background until the returned sender is dropped or fired.
fn spawn_follower(
    db_url: String,
    rpc_url: String,
    o: FollowOptions,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<FollowSummary>,
) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let c = orderflow::db::connect(&db_url).await.unwrap();
        let mut w = Writer::new(c).await.unwrap();
        w.derive_alongside(orderflow::db::connect(&db_url).await.unwrap())
            .await
            .unwrap();
        follow(
            client(&rpc_url),
            &mut w,
            o,
            Arc::new(Metrics::default()),
            async move {
                let _ = rx.await;
            },
        )
        .await
        .unwrap()
    });
    (tx, task)
}

#[tokio::test]
async fn backfill_equals_the_nodes_own_get_logs() {
    let a = anvil().await;
    let (_, published) = publish_sim(&a, 600, 11).await;
    assert!(published > 1_000, "{published} logs");
    a.mine_empty(40).await.unwrap();
    let db = TestDb::new().await;
    let c = db.client().await;
    // Positions are derived in small steps alongside the backfill (derive_idle_ms 0: whether or
    // not the writer waits for the node), and end as the fills say.
    common::set_params(&c, &[("derive_alongside_rows", 200), ("derive_idle_ms", 0)]).await;
    let head = a.head().await.unwrap();
    let s = run_follow(&db, &a.url, opts(Some(head))).await;
    assert_eq!(s.cursor, Some(head), "{s}");
    assert!(s.derive_alongside_secs > 0.0, "{s}");
    assert_db_equals_node(&db, &a).await;
    assert_wallet_totals_match_fills(&c).await;
    // Every kind the simulation emits arrived: fills of both versions, splits, resolutions.
    for table in [
        "order_filled",
        "orders_matched",
        "condition_preparation",
        "condition_resolution",
        "position_split",
        "negrisk_position_split",
    ] {
        let n = common::scalar_i64(&c, &format!("SELECT count(*) FROM chain.{table}")).await;
        assert!(n > 0, "no rows in chain.{table}");
    }
    assert_eq!(
        common::scalar_i64(&c, "SELECT count(DISTINCT version) FROM trades").await,
        2
    );
    assert_eq!(
        common::scalar_i64(&c, "SELECT count(*) FROM chain.bad_logs").await,
        0
    );
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

#[tokio::test]
async fn live_following_ends_equal_to_the_canonical_chain_after_reorgs_of_depth_1_to_10() {
    let a = anvil().await;
    let db = TestDb::new().await;
    let cfg = SimConfig {
        seed: 21,
        markets: 10,
        wallets: 100,
        blocks: 2_000,
        ..SimConfig::default()
    };
    let mut sim = Sim::new(cfg).unwrap();
    let (stop, task) = spawn_follower(db.url.clone(), a.url.clone(), opts(None));
    for depth in 1..=10u64 {
        // New blocks, let the follower catch up, then replace the last `depth` blocks.
        publish_sim_blocks(
            &a.url,
            sim.by_ref().take(12),
            Duration::ZERO,
            std::future::pending(),
        )
        .await
        .unwrap();
        caught_up(&db, &a).await;
        // The replacement blocks carry different logs than the ones they replace.
        let replacement: Vec<RawLog> = sim
            .by_ref()
            .take(2)
            .flat_map(|b| b.into_raw_logs())
            .collect();
        a.reorg_with(depth, &replacement).await.unwrap();
        a.mine_empty(1).await.unwrap();
        caught_up(&db, &a).await;
        assert_db_equals_node(&db, &a).await;
    }
    stop.send(()).unwrap();
    let s = task.await.unwrap();
    assert!(s.reorgs >= 10, "{s}");
    // Derived data followed the unwinds: wallet totals match the fills that remain.
    let c = db.client().await;
    assert_wallet_totals_match_fills(&c).await;
}

#[tokio::test]
async fn a_dropped_websocket_is_reconnected_and_the_gap_filled() {
    let a = anvil().await;
    let db = TestDb::new().await;
    let upstream: std::net::SocketAddr = a.url.trim_start_matches("http://").parse().unwrap();
    let proxy = common::net::TcpProxy::start(upstream).await;
    // Polling so slow that only the WebSocket can explain a prompt catch-up.
    let o = FollowOptions {
        ws_url: Some(format!("ws://{}", proxy.addr)),
        poll_interval: Duration::from_secs(60),
        ..opts(None)
    };
    let mut sim = Sim::new(SimConfig {
        seed: 5,
        markets: 8,
        wallets: 80,
        blocks: 1_000,
        ..SimConfig::default()
    })
    .unwrap();
    let (stop, task) = spawn_follower(db.url.clone(), a.url.clone(), o);
    tokio::time::sleep(Duration::from_millis(500)).await;
    publish_sim_blocks(
        &a.url,
        sim.by_ref().take(5),
        Duration::ZERO,
        std::future::pending(),
    )
    .await
    .unwrap();
    tokio::time::timeout(Duration::from_secs(10), caught_up(&db, &a))
        .await
        .expect("woken by new heads");
    proxy.cut();
    publish_sim_blocks(
        &a.url,
        sim.by_ref().take(8),
        Duration::ZERO,
        std::future::pending(),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    proxy.restore();
    // The reconnect reads everything published while the socket was down.
    tokio::time::timeout(Duration::from_secs(15), caught_up(&db, &a))
        .await
        .expect("gap filled after reconnect");
    assert_db_equals_node(&db, &a).await;
    stop.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn a_provider_answering_429_5xx_timeouts_and_garbage_is_survived() {
    let a = anvil().await;
    publish_sim(&a, 400, 17).await;
    let db = TestDb::new().await;
    let faulty = common::net::FaultyRpc::start(a.url.clone(), 0.3, 25, 99).await;
    let head = a.head().await.unwrap();
    let rpc = RpcClient::new(
        &faulty.url,
        RpcOptions {
            timeout: Duration::from_millis(800),
            retries: 30,
            backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(50),
            ..RpcOptions::default()
        },
    )
    .unwrap();
    // While the faults keep the writer waiting (derive_idle_ms, 20 by default), positions are
    // derived beside its writes.
    let c = db.client().await;
    common::set_params(&c, &[("derive_alongside_rows", 50), ("derive_idle_ms", 20)]).await;
    let mut w = Writer::new(db.client().await).await.unwrap();
    w.derive_alongside(db.client().await).await.unwrap();
    let s = follow(
        rpc,
        &mut w,
        FollowOptions {
            initial_span: 200,
            ..opts(Some(head))
        },
        Arc::new(Metrics::default()),
        std::future::pending(),
    )
    .await
    .unwrap();
    assert_eq!(s.cursor, Some(head), "{s}");
    assert_db_equals_node(&db, &a).await;
    assert!(s.derive_alongside_secs > 0.0, "{s}");
    assert_wallet_totals_match_fills(&c).await;
    let f = &faulty.faults;
    use std::sync::atomic::Ordering::Relaxed;
    eprintln!("{f:?}\n{s}");
    assert!(f.rate_limited.load(Relaxed) > 0 && f.server_errors.load(Relaxed) > 0);
    assert!(f.timeouts.load(Relaxed) > 0 && f.garbled.load(Relaxed) > 0);
    assert!(
        f.range_refused.load(Relaxed) > 0,
        "the range never had to shrink"
    );
}

#[tokio::test]
async fn ten_kill_9s_during_a_backfill_still_end_exact() {
    use rand::{Rng, SeedableRng};
    let a = anvil().await;
    publish_sim(&a, 2_500, 23).await;
    let head = a.head().await.unwrap();
    let db = TestDb::new().await;
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_indexer"))
            .args([
                "--rpc-url",
                &a.url,
                "--to-block",
                &head.to_string(),
                "--range",
                "3",
                "--max-range",
                "6",
                "--batch-size",
                "30",
                "--concurrency",
                "2",
                "--no-progress",
            ])
            .env("DATABASE_URL", &db.url)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let c = db.client().await;
    let mut progress = Vec::new();
    let mut mid_run = 0;
    for _ in 0..40 {
        let mut child = run();
        tokio::time::sleep(Duration::from_millis(rng.gen_range(40..160))).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let cursor = cursor(&c).await;
        progress.push(cursor);
        if cursor.is_some_and(|b| b < head) {
            mid_run += 1;
            if mid_run == 10 {
                break;
            }
        }
    }
    eprintln!("cursor after each kill: {progress:?} (head {head})");
    assert_eq!(mid_run, 10, "fewer than 10 kills landed before the end");
    // SIGTERM finishes the current batch and exits 0.
    let child = run();
    tokio::time::sleep(Duration::from_millis(150)).await;
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "SIGTERM exit: {:?}", out.status);
    let status = run().wait().unwrap();
    assert!(status.success());
    assert_db_equals_node(&db, &a).await;
    assert_wallet_totals_match_fills(&c).await;
    // The partitions the killed runs filled without their secondary indexes have them now.
    let unindexed: i64 = c
        .query_one(
            "SELECT count(*) FROM chain.partitions WHERE NOT indexed",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(unindexed, 0);
}

#[tokio::test]
async fn metrics_show_head_lag_events_and_rpc_errors() {
    let a = anvil().await;
    publish_sim(&a, 200, 31).await;
    let db = TestDb::new().await;
    let metrics = Arc::new(Metrics::default());
    let (addr, _server) =
        orderflow::metrics::serve("127.0.0.1:0".parse().unwrap(), metrics.clone())
            .await
            .unwrap();
    let head = a.head().await.unwrap();
    let mut w = Writer::new(db.client().await).await.unwrap();
    follow(
        client(&a.url),
        &mut w,
        opts(Some(head)),
        metrics.clone(),
        std::future::pending(),
    )
    .await
    .unwrap();
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for want in [
        format!("orderflow_head_block {head}"),
        format!("orderflow_indexed_block {head}"),
        "orderflow_lag_blocks 0".to_string(),
        "orderflow_reorgs_total 0".to_string(),
        "# TYPE orderflow_errors_total counter".to_string(),
    ] {
        assert!(text.contains(&want), "missing {want:?} in\n{text}");
    }
    let events: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("orderflow_events_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(events > 100, "{text}");
}
