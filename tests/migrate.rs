//! `orderflow migrate`: idempotent, and a broken SQL edit changes nothing.

mod common;

use common::{repo, scalar_i64, strings, TestDb};
use orderflow::db::{self, DbError, SqlDir};

fn copy_sql_tree(to: &std::path::Path) {
    for folder in db::sql_files::FOLDERS {
        std::fs::create_dir_all(to.join(folder)).unwrap();
        for e in std::fs::read_dir(repo().join(folder)).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, to.join(folder).join(p.file_name().unwrap())).unwrap();
        }
    }
}

#[tokio::test]
async fn migrate_is_idempotent() {
    let db = TestDb::new().await;
    let mut c = db.client().await;
    let r = db::migrate(&mut c, &SqlDir(repo())).await.unwrap();
    assert!(r.applied.is_empty());
    assert!(r.repeatable_files >= 5);
    let n: i64 = c
        .query_one("SELECT count(*) FROM trades", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
}

#[tokio::test]
async fn a_broken_sql_edit_names_file_and_line_and_keeps_the_old_logic() {
    let db = TestDb::new().await;
    let dir = std::env::temp_dir().join(format!("orderflow-sql-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_sql_tree(&dir);
    // An analyst edits the trades view and breaks line 5, after a valid earlier file changed too.
    let wallets = dir.join("views/030_wallets.sql");
    std::fs::write(
        &wallets,
        "DROP VIEW IF EXISTS wallets CASCADE;\nCREATE VIEW wallets AS SELECT 1 AS x;\n",
    )
    .unwrap();
    let trades = dir.join("views/020_trades.sql");
    let text = std::fs::read_to_string(&trades).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("SELECT f.block_number,"))
        .unwrap();
    lines[at] = "SELECT f.no_such_column,";
    std::fs::write(&trades, lines.join("\n")).unwrap();
    let mut c = db.client().await;
    let err = db::migrate(&mut c, &SqlDir(dir.clone())).await.unwrap_err();
    match &err {
        DbError::SqlFile {
            file,
            line,
            message,
        } => {
            assert_eq!(file, "views/020_trades.sql");
            assert_eq!(*line, at + 1, "{err}");
            assert!(message.contains("no_such_column"), "{err}");
        }
        other => panic!("unexpected error {other}"),
    }
    // Nothing of that migrate stayed: wallets still has its real columns.
    let cols: i64 = c
        .query_one("SELECT count(*) FROM information_schema.columns WHERE table_name = 'wallets' AND column_name = 'total_volume'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(cols, 1);
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn partitions_are_made_on_demand_without_overlap() {
    let db = TestDb::new().await;
    let c = db.client().await;
    c.execute("SELECT chain.ensure_partitions(3999999, 4000001)", &[])
        .await
        .unwrap();
    c.execute(
        "UPDATE strategy.parameters SET value = 500000 WHERE name = 'partition_blocks'",
        &[],
    )
    .await
    .unwrap();
    c.execute("SELECT chain.ensure_partitions(5900000, 6100000)", &[])
        .await
        .unwrap();
    let ranges: Vec<(i64, i64)> = c
        .query("SELECT from_block, to_block FROM chain.partitions WHERE parent = 'chain.order_filled'::regclass ORDER BY 1", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        ranges,
        vec![
            (2_000_000, 4_000_000),
            (4_000_000, 6_000_000),
            (6_000_000, 6_500_000)
        ]
    );
    // A fill in the new range lands in its partition.
    c.batch_execute(
        "INSERT INTO chain.order_filled VALUES (6000001, 0, '\\x00', NULL, '\\x01', 2, '\\x02', '\\x03', '\\x04', 0, 1, 10, 20, 0, NULL, NULL)",
    )
    .await
    .unwrap();
    let n: i64 = c
        .query_one("SELECT count(*) FROM chain.order_filled_b0006000000", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}

#[tokio::test]
async fn the_analyst_role_reads_everything_and_writes_nothing() {
    let db = TestDb::new().await;
    let c = db.client().await;
    c.batch_execute("SET ROLE orderflow_analyst").await.unwrap();
    for read in [
        "SELECT count(*) FROM trades",
        "SELECT count(*) FROM positions",
        "SELECT count(*) FROM markets",
        "SELECT count(*) FROM chain.order_filled",
        "SELECT value FROM strategy.parameters LIMIT 1",
    ] {
        c.batch_execute(read)
            .await
            .unwrap_or_else(|e| panic!("{read}: {e}"));
    }
    for write in [
        "UPDATE strategy.parameters SET value = 1",
        "DELETE FROM chain.cursor",
        "SELECT chain.unwind(0)",
        "CREATE TABLE chain.mine (x int)",
    ] {
        let err = c.batch_execute(write).await.expect_err(write);
        let msg = orderflow::db::pg_message(&err);
        assert!(msg.contains("permission denied"), "{write}: {msg}");
    }
}

/// Asserts that the plan of `query` names `index`.
async fn assert_plan_uses(c: &tokio_postgres::Client, query: &str, index: &str) {
    let plan = strings(c, &format!("EXPLAIN {query}")).await;
    assert!(plan.join("\n").contains(index), "{query}: {plan:#?}");
}

#[tokio::test]
async fn token_id_indexes_store_each_token_once_and_serve_equality() {
    let db = TestDb::new().await;
    let c = db.client().await;
    // The test role is a superuser, so V34 gave both indexes the image-equal class (the fills'
    // one on each partition, since V35).
    c.batch_execute("SELECT chain.ensure_partitions(0, 10)")
        .await
        .unwrap();
    for index in [
        "chain.order_filled_b0000000000_token",
        "flow.positions_token",
    ] {
        let def = strings(&c, &format!("SELECT pg_get_indexdef('{index}'::regclass)")).await;
        assert!(def[0].contains("chain.token_id_ops"), "{index}: {def:?}");
    }
    // Duplicates are stored once: 400 rows of two tokens take less room in a btree of the class
    // (two posting lists) than in one of numeric's own (a key per row).
    c.batch_execute(
        "CREATE TABLE dup (token_id numeric(78,0));
         INSERT INTO dup SELECT 10::numeric ^ 70 + g % 2 FROM generate_series(1, 400) g;
         CREATE INDEX dup_token ON dup (token_id chain.token_id_ops);
         CREATE INDEX dup_plain ON dup (token_id);",
    )
    .await
    .unwrap();
    let once = scalar_i64(&c, "SELECT pg_relation_size('dup_token')").await;
    let plain = scalar_i64(&c, "SELECT pg_relation_size('dup_plain')").await;
    assert!(once < plain, "image-equal {once} bytes, plain {plain}");
    // `token_id = X` is answered from the index, with the right rows.
    c.batch_execute("DROP INDEX dup_plain; SET enable_seqscan = off;")
        .await
        .unwrap();
    assert_plan_uses(
        &c,
        "SELECT * FROM chain.order_filled WHERE token_id = 5",
        "order_filled_b0000000000_token",
    )
    .await;
    let n = scalar_i64(
        &c,
        "SELECT count(*) FROM dup WHERE token_id = 10::numeric ^ 70 + 1",
    )
    .await;
    assert_eq!(n, 200);
}

#[tokio::test]
async fn bulk_partitions_get_their_indexes_when_built() {
    let db = TestDb::new().await;
    let c = db.client().await;
    let indexes = |part: &'static str| {
        format!(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'chain' AND tablename = '{part}' \
             AND indexname NOT LIKE '%pkey' ORDER BY 1"
        )
    };
    // A partition made as usual has every index of chain.partition_indexes, named after it.
    c.batch_execute("SELECT chain.ensure_partitions(0, 10)")
        .await
        .unwrap();
    let wanted = strings(
        &c,
        "SELECT 'order_filled_b0000000000_' || name FROM chain.partition_indexes \
         WHERE parent = 'chain.order_filled'::regclass ORDER BY 1",
    )
    .await;
    assert_eq!(wanted.len(), 4, "{wanted:?}");
    assert_eq!(
        strings(&c, &indexes("order_filled_b0000000000")).await,
        wanted
    );
    // A bulk writer's partitions have only their primary keys, and are marked so.
    c.batch_execute("SELECT chain.ensure_partitions(2000000, 4000001, false)")
        .await
        .unwrap();
    assert!(strings(&c, &indexes("order_filled_b0002000000"))
        .await
        .is_empty());
    let unindexed = "SELECT count(*) FROM chain.partitions WHERE NOT indexed \
                     AND parent = 'chain.order_filled'::regclass";
    assert_eq!(scalar_i64(&c, unindexed).await, 2);
    // Fills stored meanwhile are read as any others.
    c.batch_execute(
        "INSERT INTO chain.order_filled (block_number, log_index, tx_hash, contract, version, order_hash, \
             maker, taker, side, token_id, maker_amount, taker_amount, fee) \
         SELECT 2000000 + g, 0, '\\x01', '\\x02', 2, '\\x03', '\\x04', '\\x05', 0, g % 3, 1, 2, 0 \
         FROM generate_series(1, 3000) g",
    )
    .await
    .unwrap();
    // Those ending at or below a block: the first one only.
    let built = scalar_i64(&c, "SELECT chain.index_partitions(4000000)::bigint").await;
    assert_eq!(built, 5, "four fills' indexes and fee_refunded's");
    assert_eq!(
        strings(&c, &indexes("order_filled_b0002000000"))
            .await
            .len(),
        4
    );
    assert!(strings(&c, &indexes("order_filled_b0004000000"))
        .await
        .is_empty());
    assert_eq!(scalar_i64(&c, unindexed).await, 1);
    // All the rest.
    c.batch_execute("SELECT chain.index_partitions(9223372036854775807)")
        .await
        .unwrap();
    assert_eq!(scalar_i64(&c, unindexed).await, 0);
    // The indexes serve queries: a token's fills, from the partition's token index.
    c.batch_execute("ANALYZE chain.order_filled; SET enable_seqscan = off")
        .await
        .unwrap();
    assert_plan_uses(
        &c,
        "SELECT * FROM chain.order_filled WHERE token_id = 1",
        "order_filled_b0002000000_token",
    )
    .await;
    assert_eq!(
        scalar_i64(
            &c,
            "SELECT count(*) FROM chain.order_filled WHERE token_id = 1"
        )
        .await,
        1000
    );
    // A wallet's trades, from the byte-ordered address index.
    assert_plan_uses(
        &c,
        "SELECT * FROM trades WHERE wallet_address = '0x04'",
        "order_filled_b0002000000_maker_hex",
    )
    .await;
    let n = scalar_i64(
        &c,
        "SELECT count(*) FROM trades WHERE wallet_address = '0x04'",
    )
    .await;
    assert_eq!(n, 3000);
    // An index an analyst lists is built on every partition by chain.index_partitions().
    c.batch_execute(
        "INSERT INTO chain.partition_indexes VALUES ('chain.order_filled', 'taker', 'USING btree (taker)');
         SELECT chain.index_partitions();",
    )
    .await
    .unwrap();
    let n = scalar_i64(
        &c,
        "SELECT count(*) FROM pg_indexes WHERE schemaname = 'chain' AND indexname LIKE 'order_filled_b%_taker'",
    )
    .await;
    assert_eq!(n, 3);
    // A definition that cannot be built is refused when it is written, naming the row, and
    // the writers' next chain.index_partitions() is unharmed.
    let msg = refused(
        &c,
        "INSERT INTO chain.partition_indexes VALUES ('chain.order_filled', 'typo', 'USING btree (takr)')",
    )
    .await;
    assert!(
        msg.contains("chain.partition_indexes (chain.order_filled, typo)") && msg.contains("takr"),
        "{msg}"
    );
    let msg = refused(
        &c,
        "UPDATE chain.partition_indexes SET definition = 'USING btree (taker' WHERE name = 'taker'",
    )
    .await;
    assert!(msg.contains("(chain.order_filled, taker)"), "{msg}");
    let left = scalar_i64(
        &c,
        "SELECT count(*) FROM chain.partition_indexes WHERE name = 'typo' OR definition LIKE '%(taker'",
    )
    .await;
    assert_eq!(left, 0);
    c.batch_execute(
        "SELECT chain.ensure_partitions(0, 100000000); SELECT chain.index_partitions()",
    )
    .await
    .unwrap();
}

/// Runs `sql`, which the server must refuse, and returns the server's message.
async fn refused(c: &tokio_postgres::Client, sql: &str) -> String {
    let err = c.batch_execute(sql).await.unwrap_err();
    err.as_db_error()
        .unwrap_or_else(|| panic!("not a database error: {err:?}"))
        .message()
        .to_string()
}
