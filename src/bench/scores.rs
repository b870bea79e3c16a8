//! `orderflow bench scores`: the cost of wallet scoring at scale.
//!
//! Builds a world of `fills` fills by `wallets` wallets over binary markets (most of them
//! resolved) in a scratch database, through the same statement-level triggers that keep
//! positions during ingest, in chunks as a backfill writes them. Then it times, in one run:
//! - the full refresh: `REFRESH MATERIALIZED VIEW CONCURRENTLY wallet_stats` and a score
//!   snapshot of every wallet (`flow.take_score_snapshot`);
//! - the incremental update after one block of ~150 fills at the head: the fills' insert with
//!   every trigger (wallet totals, ledger, positions folded), and the schedule check.

use std::time::Instant;

use tokio_postgres::Client;

use crate::db;

/// One synthetic block.
const FILLS_PER_BLOCK: i64 = 150;
/// First block of the synthetic world.
const START_BLOCK: i64 = 90_000_000;
/// Fills per INSERT while building (one backfill batch).
const CHUNK: i64 = 100_000;

/// Inserts fills [from, to) of the synthetic world in one statement (triggers fire once).
///
/// Fill i belongs to position p = i / 3 (a wallet's holding of one outcome): its wallet and
/// market come from multiplicative hashes of p, two of three fills buy and every fourth
/// position's third fill sells; one fill in three is a taker fill (taker = the exchange).
fn fills_sql(from: i64, to: i64, wallets: i64, markets: i64) -> String {
    format!(
        "INSERT INTO chain.order_filled (block_number, log_index, tx_hash, block_time, contract, version,
                                         order_hash, maker, taker, side, token_id, maker_amount, taker_amount, fee)
         SELECT {START_BLOCK} + i / {FILLS_PER_BLOCK}, (i % {FILLS_PER_BLOCK})::int,
                '\\x01', timestamptz '2026-05-01' + make_interval(secs => 2 * (i / {FILLS_PER_BLOCK})),
                '\\xe111180000d2663c0091e4f400237545b87b996b', 2, '\\x02',
                decode(lpad(to_hex(w + 1), 40, '0'), 'hex'),
                CASE WHEN i % 3 = 0 THEN '\\xe111180000d2663c0091e4f400237545b87b996b'::bytea
                     ELSE decode(lpad(to_hex((w * 7 + 3) % {wallets} + 1), 40, '0'), 'hex') END,
                sell::int::smallint,
                1000000 + 2 * m + o,
                CASE WHEN sell THEN shares ELSE (shares * price)::bigint END,
                CASE WHEN sell THEN (shares * price)::bigint ELSE shares END,
                0
         FROM generate_series({from}::bigint, {to} - 1) i
         CROSS JOIN LATERAL (SELECT i / 3 AS p) p
         CROSS JOIN LATERAL (SELECT (p * 2654435761) % {wallets} AS w,
                                    (p * 40503 + p / 7) % {markets} AS m,
                                    (p / 5) % 2 AS o,
                                    i % 3 = 2 AND p % 4 = 0 AS sell,
                                    (10 + i % 50) * 1000000::bigint AS shares,
                                    0.05 + ((p * 37) % 90) / 100.0 AS price) x"
    )
}

/// The markets, their tokens and blocks: created before the first fill.
fn world_sql(fills: i64, markets: i64) -> String {
    let last_block = START_BLOCK + fills / FILLS_PER_BLOCK + 1;
    format!(
        "SELECT chain.ensure_partitions({START_BLOCK} - 1, {last_block} + 10);
         INSERT INTO chain.blocks (block_number, block_hash, block_time)
         SELECT b, NULL, timestamptz '2026-05-01' + make_interval(secs => 2 * (b - {START_BLOCK}))
         FROM generate_series({START_BLOCK} - 1, {last_block} + 1) b;
         INSERT INTO chain.condition_preparation (block_number, log_index, tx_hash, block_time, contract,
                                                  condition_id, oracle, question_id, outcome_slot_count)
         SELECT {START_BLOCK} - 1, m::int, '\\x01', timestamptz '2026-05-01' - interval '2 seconds',
                '\\x4d97dcd97ec945f40cf65f87097ace5ea0476045', decode(lpad(to_hex(m + 1), 64, '0'), 'hex'),
                '\\x00', '\\x00', 2
         FROM generate_series(0, {markets} - 1) m;
         INSERT INTO market.tokens (token_id, condition_id, outcome_index, neg_risk, collateral, source,
                                    block_number, log_index)
         SELECT 1000000 + 2 * m + o, decode(lpad(to_hex(m + 1), 64, '0'), 'hex'), o, false,
                '\\x2791bca1f2de4661ed88a30c99a7a9449aa84174', 'condition_preparation', {START_BLOCK} - 1, m::int
         FROM generate_series(0, {markets} - 1) m, generate_series(0, 1) o;"
    )
}

/// Four markets in five resolve (YES or NO by parity) in the block after the last fill.
fn resolutions_sql(fills: i64, markets: i64) -> String {
    let block = START_BLOCK + fills / FILLS_PER_BLOCK + 1;
    format!(
        "INSERT INTO chain.condition_resolution (block_number, log_index, tx_hash, block_time, contract, condition_id,
                                                 oracle, question_id, outcome_slot_count, payout_numerators)
         SELECT {block}, m::int, '\\x01', timestamptz '2026-05-01' + make_interval(secs => 2 * ({block} - {START_BLOCK})),
                '\\x4d97dcd97ec945f40cf65f87097ace5ea0476045', decode(lpad(to_hex(m + 1), 64, '0'), 'hex'),
                '\\x00', '\\x00', 2, CASE WHEN m % 2 = 0 THEN '{{1,0}}'::numeric[] ELSE '{{0,1}}'::numeric[] END
         FROM generate_series(0, {markets} - 1) m WHERE m % 5 <> 0"
    )
}

async fn timed(c: &Client, what: &str, sql: &str) -> anyhow::Result<f64> {
    let t = Instant::now();
    c.batch_execute(sql)
        .await
        .map_err(db::DbError::query(what.to_owned()))?;
    Ok(t.elapsed().as_secs_f64())
}

/// Runs the benchmark in the scratch database `orderflow_bench_scores`.
pub async fn run(fills: u64, wallets: u64, keep: bool, admin_url: &str) -> anyhow::Result<()> {
    let (fills, wallets) = (fills as i64, wallets.max(1) as i64);
    let markets = (fills / 500).max(100);
    let url = super::scratch_db(admin_url, "orderflow_bench_scores").await?;
    let mut c = db::connect(&url).await?;
    db::migrate(&mut c, &db::SqlDir::locate(None)).await?;
    println!(
        "building {fills} fills by {wallets} wallets over {markets} markets (chunks of {CHUNK}, triggers on)…"
    );
    let built = Instant::now();
    c.batch_execute(&world_sql(fills, markets)).await?;
    let mut from = 0;
    while from < fills {
        let to = (from + CHUNK).min(fills);
        c.batch_execute(&fills_sql(from, to, wallets, markets))
            .await
            .map_err(db::DbError::query("inserting synthetic fills"))?;
        from = to;
    }
    c.batch_execute(&resolutions_sql(fills, markets)).await?;
    c.batch_execute("VACUUM ANALYZE").await?;
    let build_secs = built.elapsed().as_secs_f64();
    let count = |sql: &'static str| {
        let c = &c;
        async move { c.query_one(sql, &[]).await.map(|r| r.get::<_, i64>(0)) }
    };
    let positions = count("SELECT count(*) FROM flow.positions").await?;
    let traders = count("SELECT count(*) FROM flow.wallet_totals").await?;
    println!(
        "built in {build_secs:.1}s ({:.0} fills/s through the triggers): {positions} positions, {traders} wallets",
        fills as f64 / build_secs
    );

    // Full refresh.
    let stats = timed(
        &c,
        "refreshing wallet_stats",
        "REFRESH MATERIALIZED VIEW CONCURRENTLY wallet_stats",
    )
    .await?;
    let t = Instant::now();
    let report = crate::scores::snapshot(&c, Some(START_BLOCK + fills), "bench").await?;
    let snap = t.elapsed().as_secs_f64();
    println!(
        "full refresh: wallet_stats {stats:.2}s + snapshot {snap:.2}s ({} wallets scored) = {:.2}s   (goal: under 120 s)",
        report.wallets,
        stats + snap
    );

    // Incremental: blocks of fills at the head, each in its own transaction as the indexer
    // commits them.
    // A checkpoint first, so the full refresh's writes are not flushed on the blocks' time.
    c.batch_execute("CHECKPOINT").await?;
    let mut times = Vec::new();
    for k in 0..20 {
        let from = fills + k * FILLS_PER_BLOCK;
        let sql = format!(
            "BEGIN; {}; COMMIT;",
            fills_sql(from, from + FILLS_PER_BLOCK, wallets, markets)
        );
        times.push(timed(&c, "inserting a block of fills", &sql).await?);
    }
    times.sort_by(f64::total_cmp);
    let due = timed(&c, "checking the score schedule", "SELECT flow.score_due()").await?;
    println!(
        "incremental, one block of {FILLS_PER_BLOCK} fills with positions kept: median {:.1} ms (min {:.1}, max {:.1}) over {} blocks; schedule check {:.1} ms   (goal: under 200 ms)",
        times[times.len() / 2] * 1e3,
        times[0] * 1e3,
        times[times.len() - 1] * 1e3,
        times.len(),
        due * 1e3
    );
    drop(c);
    super::drop_scratch(admin_url, "orderflow_bench_scores", keep).await
}
