//! Writes a batch in ONE transaction, then moves the cursor in that same transaction.
//!
//! Two paths per table:
//! - **direct**: when every log of the batch lies after the last one (block, log index) already
//!   stored in a partitioned event table, nothing can conflict with committed rows, so the batch
//!   is COPYed straight into the table inside a savepoint (sent with the COPY). Should it still
//!   hit a unique violation (the input repeats a log, or another writer got there first), the
//!   savepoint is rolled back and the batch takes the safe path.
//! - **staged**: binary COPY into a per-session staging table, then
//!   `INSERT … SELECT … ON CONFLICT DO NOTHING` (re-imports, overlapping ranges, small tables).
//!   A table's staging table is made when it first takes this path (`make_staged` says why).
//!
//! The batch's blocks (chain.blocks: hash and time) go in first, in one `INSERT … SELECT FROM
//! unnest(…)` that fills what is still NULL; the recent headers and the cursor go in last.
//!
//! The writer's session defers derivation (`orderflow.derive = 'deferred'`): the event tables'
//! triggers queue the block ranges they store in flow.derive_queue, in the batch's transaction,
//! and `flow.derive()` folds them into the ledger and positions later, in its own transaction:
//! after about `derive_every_rows` stored events, and whenever the caller asks (the end of an
//! import, each block at the head). The queue commits with the events, so a crash loses nothing.
//! Given a second connection (`derive_alongside`), those derives run on both connections at
//! once, half of the wallets on each (`flow.derive_part`). And while the writer waits for
//! something to write ([`Writer::wait_for`]: a provider's answer, the file's next lines) for
//! `derive_idle_ms`, a derive of about `derive_alongside_rows` events runs on the second
//! connection in the background, beside the writes: the writer commits its batches in chain
//! order, so each derive takes a prefix of the chain, and the next one begins after the last
//! one ended. A writer with work at hand so never shares the cores with a derive, and one that
//! waits on its input derives meanwhile.
//!
//! A bulk writer ([`Writer::set_bulk`]: an import, a backfill) makes new partitions with only
//! their primary keys and builds their secondary indexes (chain.partition_indexes) once it has
//! written past them, or when it is done ([`Writer::index_partitions`]): a sorted build costs a
//! fraction of keeping each btree up to date row by row. A writer that is not bulk first builds
//! what a bulk one left unbuilt (a crash, or a backfill that reached the head).

use std::{
    collections::{BTreeMap, HashMap},
    time::Duration,
};

use futures::SinkExt;
use tokio_postgres::{Client, GenericClient, Statement};

use super::batch::{Batch, Table};
use crate::{db::DbError, rpc::Header};

/// What one write did, per table.
#[derive(Debug, Default, Clone)]
pub struct WriteReport {
    /// Rows offered per table.
    pub offered: BTreeMap<Table, u64>,
    /// Rows actually inserted per table (the rest were duplicates).
    pub inserted: BTreeMap<Table, u64>,
    /// Seconds in COPY (into staging, or straight into the table on the direct path).
    pub copy_secs: f64,
    /// Tables written on the direct path.
    pub direct: u64,
    /// Seconds in INSERT … SELECT (including the triggers it fires).
    pub insert_secs: f64,
    /// Seconds in COMMIT.
    pub commit_secs: f64,
    /// Seconds deriving positions (flow.derive) after the commit, when it was due.
    pub derive_secs: f64,
    /// The writer stopped after the commit to derive what waited (`derive_every_rows`).
    pub stopped_to_derive: bool,
    /// Seconds building the secondary indexes of partitions written past, before the write.
    pub index_secs: f64,
}

/// A connection dedicated to writing batches.
pub struct Writer {
    client: Client,
    /// Block ranges [from, to) known to have partitions.
    partitions: Vec<(u64, u64)>,
    /// Of those, the ranges whose partitions still lack their secondary indexes.
    unindexed: Vec<(u64, u64)>,
    /// New partitions are made without secondary indexes ([`Writer::set_bulk`]).
    bulk: bool,
    /// Per table, its staging table's COPY and INSERT, made when first needed.
    staged: HashMap<Table, Staged>,
    /// Per partitioned table, its direct COPY.
    direct: HashMap<Table, Statement>,
    /// The statements every write runs, prepared with the writer.
    fixed: Fixed,
    /// Per partitioned table, the last (block, log index) stored (None = empty), as far as we know.
    high_water: HashMap<Table, Option<(u64, u64)>>,
    /// Derive after this many stored events (`derive_every_rows`).
    derive_every: u64,
    /// With a second connection, derive alongside after this many (`derive_alongside_rows`).
    derive_alongside_every: u64,
    /// Derive alongside once waiting this long for something to write (`derive_idle_ms`;
    /// zero: whenever a derive alongside is due).
    idle_after: Duration,
    /// How long to wait after a head block's commit before deriving (`derive_head_delay_ms`).
    head_delay: Duration,
    /// Events stored that no derive has taken yet (as far as counted: a derive alongside
    /// takes about `derive_alongside_rows` of them, a whole derive all).
    underived: u64,
    /// The connection deriving in the background, when one was given.
    alongside: Option<Alongside>,
    /// Seconds the background derives took, all finished ones.
    alongside_secs: f64,
    /// A background derive (which takes only the oldest ranges) began since the last whole
    /// derive, so more may be queued than `underived` counts.
    backlog: bool,
}

/// The background deriving connection: idle, or running `flow.derive()`.
enum Alongside {
    Idle(Client),
    Busy(tokio::task::JoinHandle<(Client, Result<f64, DbError>)>),
}

/// A table's staged path: COPY into the session's staging table, then INSERT from it.
#[derive(Clone)]
struct Staged {
    copy: Statement,
    insert: Statement,
}

/// The statements of every write.
#[derive(Clone)]
struct Fixed {
    blocks: Statement,
    headers: Statement,
    prune: Statement,
    cursor: Statement,
}

impl Fixed {
    async fn prepare(client: &Client) -> Result<Fixed, DbError> {
        let prepare = |sql: &'static str, what: &'static str| async move {
            client
                .prepare(sql)
                .await
                .map_err(DbError::query(format!("preparing {what}")))
        };
        let (blocks, headers, prune, cursor) = futures::try_join!(
            prepare(INSERT_BLOCKS, "the insert into chain.blocks"),
            prepare(INSERT_HEADERS, "the insert into chain.recent_blocks"),
            prepare(PRUNE_HEADERS, "the pruning of chain.recent_blocks"),
            prepare(MOVE_CURSOR, "the cursor move"),
        )?;
        Ok(Fixed {
            blocks,
            headers,
            prune,
            cursor,
        })
    }
}

/// chain.blocks rows: a block's hash and time fill what is still NULL, never replace a value.
const INSERT_BLOCKS: &str = "INSERT INTO chain.blocks (block_number, block_hash, block_time) \
     SELECT n, h, to_timestamp(t) FROM unnest($1::bigint[], $2::bytea[], $3::bigint[]) AS u(n, h, t) \
     ON CONFLICT (block_number) DO UPDATE SET block_hash = coalesce(chain.blocks.block_hash, excluded.block_hash), \
     block_time = coalesce(chain.blocks.block_time, excluded.block_time) \
     WHERE (chain.blocks.block_hash IS NULL AND excluded.block_hash IS NOT NULL) \
        OR (chain.blocks.block_time IS NULL AND excluded.block_time IS NOT NULL)";
const INSERT_HEADERS: &str = "INSERT INTO chain.recent_blocks (block_number, block_hash, parent_hash, block_time) \
     SELECT n, h, p, to_timestamp(t) FROM unnest($1::bigint[], $2::bytea[], $3::bytea[], $4::bigint[]) AS u(n, h, p, t) \
     ON CONFLICT (block_number) DO UPDATE SET block_hash = excluded.block_hash, \
     parent_hash = excluded.parent_hash, block_time = excluded.block_time";
const PRUNE_HEADERS: &str = "DELETE FROM chain.recent_blocks WHERE block_number < $1";
const MOVE_CURSOR: &str = "INSERT INTO chain.cursor (name, block_number) VALUES ($1, $2) \
     ON CONFLICT (name) DO UPDATE SET block_number = excluded.block_number, updated_at = now()";

impl Writer {
    /// Takes over a connection for writing.
    pub async fn new(client: Client) -> Result<Self, DbError> {
        // Safe for exactly-once: a crash can lose only the last commits, and their cursor moves
        // with them, so a restart repeats that work instead of skipping it.
        client
            .batch_execute("SET synchronous_commit = off; SET orderflow.derive = 'deferred'")
            .await
            .map_err(DbError::query("configuring the writer session"))?;
        let params = client
            .query_one(
                "SELECT strategy.param('derive_every_rows')::bigint, \
                        strategy.param('derive_head_delay_ms')::float8, \
                        strategy.param('derive_alongside_rows')::bigint, \
                        strategy.param('derive_idle_ms')::float8",
                &[],
            )
            .await
            .map_err(DbError::query(
                "reading parameters derive_every_rows, derive_head_delay_ms, derive_alongside_rows and derive_idle_ms",
            ))?;
        let derive_every = params.get::<_, i64>(0).max(1) as u64;
        let derive_alongside_every = params.get::<_, i64>(2).max(1) as u64;
        let millis =
            |i: usize| Duration::from_secs_f64(params.get::<_, f64>(i).clamp(0.0, 60_000.0) / 1e3);
        let (head_delay, idle_after) = (millis(1), millis(3));
        let fixed = Fixed::prepare(&client).await?;
        let mut w = Writer {
            client,
            partitions: Vec::new(),
            unindexed: Vec::new(),
            bulk: false,
            staged: HashMap::new(),
            direct: HashMap::new(),
            fixed,
            high_water: HashMap::new(),
            derive_every,
            derive_alongside_every,
            idle_after,
            head_delay,
            underived: 0,
            alongside: None,
            alongside_secs: 0.0,
            backlog: false,
        };
        w.load_partitions().await?;
        Ok(w)
    }

    async fn load_partitions(&mut self) -> Result<(), DbError> {
        let rows = self
            .client
            .query(
                "SELECT from_block, to_block, bool_and(indexed) FROM chain.partitions \
                 GROUP BY from_block, to_block ORDER BY from_block",
                &[],
            )
            .await
            .map_err(DbError::query("reading chain.partitions"))?;
        let range =
            |r: &tokio_postgres::Row| (r.get::<_, i64>(0) as u64, r.get::<_, i64>(1) as u64);
        self.partitions = rows.iter().map(range).collect();
        self.unindexed = rows
            .iter()
            .filter(|r| !r.get::<_, bool>(2))
            .map(range)
            .collect();
        Ok(())
    }

    /// Bulk or not: a bulk writer makes new partitions without their secondary indexes and
    /// builds them when it has written past them. Leaving bulk mode builds every one still
    /// missing; returns the seconds that took.
    pub async fn set_bulk(&mut self, bulk: bool) -> Result<f64, DbError> {
        self.bulk = bulk;
        if bulk {
            return Ok(0.0);
        }
        self.index_partitions().await
    }

    /// The end of a bulk load (or of any run): leaves bulk mode, building the secondary indexes
    /// of the partitions it filled, then derives what is queued ([`Writer::derive`]). Returns
    /// the seconds of each.
    pub async fn finish(&mut self) -> Result<(f64, f64), DbError> {
        let index_secs = self.set_bulk(false).await?;
        let derive_secs = self.derive().await?;
        Ok((index_secs, derive_secs))
    }

    /// Builds the secondary indexes of every partition still without them (a bulk load's), in
    /// their own transaction. Returns the seconds it took.
    pub async fn index_partitions(&mut self) -> Result<f64, DbError> {
        self.index_up_to(None).await
    }

    /// Builds the secondary indexes of the unindexed partitions ending at or below `below`
    /// (all of them for None).
    async fn index_up_to(&mut self, below: Option<u64>) -> Result<f64, DbError> {
        if !self
            .unindexed
            .iter()
            .any(|&(_, hi)| below.map_or(true, |b| hi <= b))
        {
            return Ok(0.0);
        }
        let started = std::time::Instant::now();
        let below = below.unwrap_or(i64::MAX as u64) as i64;
        self.client
            .execute("SELECT chain.index_partitions($1)", &[&below])
            .await
            .map_err(DbError::query(
                "building the secondary indexes of bulk-loaded partitions (chain.index_partitions)",
            ))?;
        self.load_partitions().await?;
        Ok(started.elapsed().as_secs_f64())
    }

    fn covered(&self, from: u64, to: u64) -> bool {
        let mut b = from;
        for &(lo, hi) in &self.partitions {
            if lo <= b && b < hi {
                b = hi;
                if b > to {
                    return true;
                }
            }
        }
        false
    }

    /// Makes partitions for [from, to] unless already known (its own short transaction).
    async fn ensure_partitions(&mut self, from: u64, to: u64) -> Result<(), DbError> {
        if self.covered(from, to) {
            return Ok(());
        }
        // Making a partition locks its parent exclusively, and a derive running alongside
        // reads the parents until it commits: let it end first, rather than stall behind it (or
        // deadlock, taking the parents in another order).
        self.settle().await?;
        self.client
            .execute(
                "SELECT chain.ensure_partitions($1, $2, $3)",
                &[&(from as i64), &(to as i64), &!self.bulk],
            )
            .await
            .map_err(DbError::query(format!(
                "creating partitions for blocks {from}..{to}"
            )))?;
        self.load_partitions().await
    }

    /// `t`'s staged path, its staging table made on first use.
    async fn staged(&mut self, t: Table) -> Result<Staged, DbError> {
        if let Some(s) = self.staged.get(&t) {
            return Ok(s.clone());
        }
        let s = make_staged(&self.client, t).await?;
        self.staged.insert(t, s.clone());
        Ok(s)
    }

    /// The direct COPY of partitioned table `t`.
    async fn direct_statement(&mut self, t: Table) -> Result<Statement, DbError> {
        if let Some(s) = self.direct.get(&t) {
            return Ok(s.clone());
        }
        let s = self
            .client
            .prepare(&format!(
                "COPY {} ({}) FROM STDIN (FORMAT binary)",
                t.name(),
                t.columns()
            ))
            .await
            .map_err(DbError::query(format!("preparing COPY into {}", t.name())))?;
        self.direct.insert(t, s.clone());
        Ok(s)
    }

    /// The last (block, log index) stored in `t`, read once and then kept up to date by our own
    /// writes.
    async fn high_water(&mut self, t: Table) -> Result<Option<(u64, u64)>, DbError> {
        if let Some(h) = self.high_water.get(&t) {
            return Ok(*h);
        }
        let row = self
            .client
            .query_opt(
                &format!(
                    "SELECT block_number, log_index FROM {} \
                     ORDER BY block_number DESC, log_index DESC LIMIT 1",
                    t.name()
                ),
                &[],
            )
            .await
            .map_err(DbError::query(format!(
                "reading the last log of {}",
                t.name()
            )))?;
        let h = row.map(|r| (r.get::<_, i64>(0) as u64, r.get::<_, i32>(1) as u64));
        self.high_water.insert(t, h);
        Ok(h)
    }

    /// After a reorg: deletes everything above block `fork` (events, tokens, blocks, recent
    /// hashes; derived rows through their triggers) and rewinds cursors, in one transaction.
    /// Returns the rows deleted.
    pub async fn unwind(&mut self, fork: u64) -> Result<u64, DbError> {
        self.settle().await?;
        let tx = self
            .client
            .transaction()
            .await
            .map_err(DbError::query("opening an unwind transaction"))?;
        let n: i64 = tx
            .query_one("SELECT chain.unwind($1)", &[&(fork as i64)])
            .await
            .map_err(DbError::query(format!("unwinding above block {fork}")))?
            .get(0);
        tx.commit()
            .await
            .map_err(DbError::query("committing an unwind"))?;
        self.high_water.clear();
        Ok(n as u64)
    }

    /// Folds every event range queued by deferring writers into the ledger and positions
    /// (`flow.derive()`, its own transaction), after any background derive has ended. Returns
    /// the seconds it took, waiting for the background one included.
    ///
    /// With a second connection and at least `derive_alongside_rows` events queued (the end of
    /// an import or backfill), the queue is derived in two halves by wallet, one on each
    /// connection at the same time (`flow.derive_part`), and then emptied: the second core
    /// would otherwise wait while one connection derives alone.
    pub async fn derive(&mut self) -> Result<f64, DbError> {
        let started = std::time::Instant::now();
        self.settle().await?;
        let every = self.derive_alongside_every;
        match &self.alongside {
            // The queue is read only when it may be large (not for a head block's derive).
            Some(Alongside::Idle(other)) if self.backlog || self.underived >= every => {
                let (ids, rows) = queued(&self.client).await?;
                if rows >= every as i64 {
                    derive_in_parts(&self.client, other, &ids).await?;
                } else {
                    run_derive(other, None).await?;
                }
            }
            Some(Alongside::Idle(other)) => run_derive(other, None).await?,
            _ => run_derive(&self.client, None).await?,
        }
        self.underived = 0;
        self.backlog = false;
        Ok(started.elapsed().as_secs_f64())
    }

    /// Has flow.derive() run on a second connection, in the background, whenever
    /// `derive_alongside_rows` events have been stored since the last one began and that one
    /// has ended; [`Writer::derive`] and [`Writer::unwind`] wait for it.
    pub async fn derive_alongside(&mut self, client: Client) -> Result<(), DbError> {
        client
            .batch_execute("SET synchronous_commit = off")
            .await
            .map_err(DbError::query("configuring the deriving session"))?;
        self.settle().await?;
        self.alongside = Some(Alongside::Idle(client));
        Ok(())
    }

    /// Seconds the finished background derives took.
    pub fn alongside_secs(&self) -> f64 {
        self.alongside_secs
    }

    /// Waits for the background derive, if one runs, and returns its error, if it failed.
    async fn settle(&mut self) -> Result<(), DbError> {
        // Awaited where it is kept: should this future be dropped meanwhile (a select! taking
        // another branch), the task stays there for the next settle.
        if let Some(Alongside::Busy(task)) = &mut self.alongside {
            // The task is never aborted, so a join error is its panic, carried on here.
            let (client, result) = task
                .await
                .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
            self.alongside = Some(Alongside::Idle(client));
            self.alongside_secs += result?;
        }
        Ok(())
    }

    /// Awaits `next`, what the loop feeding this writer will write next (a provider's answer,
    /// the file's next lines). Every `derive_idle_ms` of the wait, a derive due alongside (at
    /// least `derive_alongside_rows` events not yet taken by one) starts on the second
    /// connection, unless one still runs: the wait then costs the derive nothing.
    pub async fn wait_for<F: std::future::Future>(
        &mut self,
        next: F,
    ) -> Result<F::Output, DbError> {
        futures::pin_mut!(next);
        if self.alongside.is_none() || self.idle_after.is_zero() {
            return Ok(next.await);
        }
        loop {
            if let Ok(v) = tokio::time::timeout(self.idle_after, &mut next).await {
                return Ok(v);
            }
            self.derive_alongside_if_due().await?;
        }
    }

    /// Begins a derive in the background on the second connection when one is due (at least
    /// `derive_alongside_rows` events not yet taken by one) and none still runs; the next write
    /// or wait looks again.
    async fn derive_alongside_if_due(&mut self) -> Result<(), DbError> {
        if self.underived < self.derive_alongside_every
            || matches!(&self.alongside, Some(Alongside::Busy(t)) if !t.is_finished())
        {
            return Ok(());
        }
        self.settle().await?;
        if let Some(Alongside::Idle(client)) =
            self.alongside.take_if(|a| matches!(a, Alongside::Idle(_)))
        {
            // The oldest ranges only, about as many rows as began it: each derive stays short,
            // and what is queued when the writes stop is derived on both connections. The rest
            // stays counted, for the next derive alongside or the next stop to derive.
            let every = self.derive_alongside_every;
            self.underived = self.underived.saturating_sub(every);
            self.backlog = true;
            self.alongside = Some(Alongside::Busy(tokio::spawn(async move {
                let started = std::time::Instant::now();
                let result = run_derive(&client, Some(every)).await;
                (client, result.map(|()| started.elapsed().as_secs_f64()))
            })));
        }
        Ok(())
    }

    /// Events this writer stored that no derive has taken yet (about).
    pub fn underived(&self) -> u64 {
        self.underived
    }

    /// How long the head follower waits after a block's commit before deriving it
    /// (`derive_head_delay_ms`): the executor decides on the block's signals first.
    pub fn head_delay(&self) -> Duration {
        self.head_delay
    }

    /// The reorg window from strategy.parameters (`reorg_window_blocks`).
    pub async fn reorg_window(&self) -> Result<u64, DbError> {
        let row = self
            .client
            .query_one("SELECT strategy.param('reorg_window_blocks')::bigint", &[])
            .await
            .map_err(DbError::query("reading parameter reorg_window_blocks"))?;
        Ok(row.get::<_, i64>(0).max(1) as u64)
    }

    /// The block cursor `name` has reached, if it exists.
    pub async fn cursor(&self, name: &str) -> Result<Option<u64>, DbError> {
        let row = self
            .client
            .query_opt(
                "SELECT block_number FROM chain.cursor WHERE name = $1",
                &[&name],
            )
            .await
            .map_err(DbError::query(format!("reading cursor {name}")))?;
        Ok(row.map(|r| r.get::<_, i64>(0) as u64))
    }

    /// The recorded recent headers at or above `from`, by block number.
    pub async fn recent_blocks(&self, from: u64) -> Result<BTreeMap<u64, Header>, DbError> {
        let rows = self
            .client
            .query(
                "SELECT block_number, block_hash, parent_hash, coalesce(extract(epoch FROM block_time)::bigint, 0) \
                 FROM chain.recent_blocks WHERE block_number >= $1",
                &[&(from as i64)],
            )
            .await
            .map_err(DbError::query("reading chain.recent_blocks"))?;
        let mut out = BTreeMap::new();
        for r in rows {
            // The table's CHECKs guarantee 32-byte hashes.
            let word = |i: usize| -> [u8; 32] {
                let v: Vec<u8> = r.get(i);
                v.try_into().unwrap_or([0; 32])
            };
            let h = Header {
                number: r.get::<_, i64>(0) as u64,
                hash: word(1),
                parent_hash: word(2),
                timestamp: r.get::<_, i64>(3) as u64,
            };
            out.insert(h.number, h);
        }
        Ok(out)
    }

    /// Writes the batch and, when given, moves cursor `name` to `block` and records the recent
    /// headers `recent` (pruning those older than `keep_from`), all in one transaction.
    pub async fn write(
        &mut self,
        batch: Batch,
        cursor: Option<(&str, u64)>,
        recent: &RecentBlocks<'_>,
    ) -> Result<WriteReport, DbError> {
        let mut report = WriteReport::default();
        if let (Some(lo), Some(hi)) = (batch.min_block, batch.max_block) {
            self.ensure_partitions(lo, hi).await?;
            // A bulk writer indexes the partitions it has left behind; any other, all of them.
            report.index_secs = self.index_up_to(self.bulk.then_some(lo)).await?;
        }
        let min_position = batch.min_position;
        let max_position = batch.max_position;
        let (blocks, streams) = batch.into_parts();
        let mut prepared = Vec::with_capacity(streams.len());
        for (t, rows, bytes) in streams {
            let direct = match min_position {
                Some(lo)
                    if t.partitioned() && self.high_water(t).await?.map_or(true, |h| lo > h) =>
                {
                    Some(self.direct_statement(t).await?)
                }
                _ => None,
            };
            let staged = match direct {
                None => Some(self.staged(t).await?),
                Some(_) => self.staged.get(&t).cloned(),
            };
            prepared.push((t, rows, bytes, direct, staged));
        }
        let fixed = self.fixed.clone();
        let tx = self
            .client
            .transaction()
            .await
            .map_err(DbError::query("opening a batch transaction"))?;
        // The blocks first: the events' triggers read their times (the panic window's start).
        if !blocks.numbers.is_empty() {
            tx.execute(
                &fixed.blocks,
                &[&blocks.numbers, &blocks.hashes, &blocks.times],
            )
            .await
            .map_err(DbError::query(
                "recording the batch's blocks in chain.blocks",
            ))?;
        }
        // Staging tables made inside this transaction, kept once it has committed.
        let mut made = Vec::new();
        let mut written = Vec::new();
        for (t, rows, bytes, direct, staged) in prepared {
            let started = std::time::Instant::now();
            if let Some(copy) = &direct {
                // The savepoint goes out with the COPY, in one round trip, and is left for the
                // COMMIT to end (nothing needs it released): on a unique violation, rolling
                // back to it undoes this COPY alone.
                let (opened, copied) = futures::join!(
                    tx.batch_execute("SAVEPOINT direct"),
                    copy_in(&tx, copy, bytes.clone())
                );
                opened.map_err(DbError::query("opening a savepoint"))?;
                match copied {
                    Ok(()) => {
                        report.copy_secs += started.elapsed().as_secs_f64();
                        report.direct += 1;
                        report.offered.insert(t, rows as u64);
                        report.inserted.insert(t, rows as u64);
                        written.push(t);
                        continue;
                    }
                    Err(e)
                        if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) =>
                    {
                        tx.batch_execute("ROLLBACK TO SAVEPOINT direct")
                            .await
                            .map_err(DbError::query("rolling back a savepoint"))?;
                    }
                    Err(e) => {
                        return Err(DbError::query(format!("COPY into {}", t.name()))(e));
                    }
                }
            }
            let st = match staged {
                Some(st) => st,
                None => {
                    let st = make_staged(&tx, t).await?;
                    made.push((t, st.clone()));
                    st
                }
            };
            copy_in(&tx, &st.copy, bytes)
                .await
                .map_err(DbError::query(format!(
                    "COPY into staging for {}",
                    t.name()
                )))?;
            report.copy_secs += started.elapsed().as_secs_f64();
            let started = std::time::Instant::now();
            let n = tx
                .execute(&st.insert, &[])
                .await
                .map_err(DbError::query(format!("inserting into {}", t.name())))?;
            report.insert_secs += started.elapsed().as_secs_f64();
            report.offered.insert(t, rows as u64);
            report.inserted.insert(t, n);
            written.push(t);
        }
        // The recent headers, their pruning and the cursor go out together, in one round trip.
        let headers = async {
            if recent.headers.is_empty() {
                return Ok(());
            }
            let numbers: Vec<i64> = recent.headers.iter().map(|h| h.number as i64).collect();
            let hashes: Vec<&[u8]> = recent.headers.iter().map(|h| &h.hash[..]).collect();
            let parents: Vec<&[u8]> = recent.headers.iter().map(|h| &h.parent_hash[..]).collect();
            let times: Vec<i64> = recent.headers.iter().map(|h| h.timestamp as i64).collect();
            tx.execute(&fixed.headers, &[&numbers, &hashes, &parents, &times])
                .await
                .map(drop)
                .map_err(DbError::query("recording recent block hashes"))
        };
        let prune = async {
            let Some(keep_from) = recent.keep_from else {
                return Ok(());
            };
            tx.execute(&fixed.prune, &[&(keep_from as i64)])
                .await
                .map(drop)
                .map_err(DbError::query("pruning recent block hashes"))
        };
        let moved = async {
            let Some((name, block)) = cursor else {
                return Ok(());
            };
            tx.execute(&fixed.cursor, &[&name, &(block as i64)])
                .await
                .map(drop)
                .map_err(DbError::query(format!("moving cursor {name}")))
        };
        futures::try_join!(headers, prune, moved)?;
        let started = std::time::Instant::now();
        tx.commit()
            .await
            .map_err(DbError::query("committing a batch"))?;
        report.commit_secs = started.elapsed().as_secs_f64();
        self.staged.extend(made);
        if let Some(hi) = max_position {
            for t in written {
                if let Some(h) = self.high_water.get_mut(&t) {
                    *h = Some(h.map_or(hi, |h| h.max(hi)));
                }
            }
        }
        self.underived += report
            .inserted
            .iter()
            .filter(|(t, _)| t.is_event())
            .map(|(_, n)| n)
            .sum::<u64>();
        if self.alongside.is_some() && self.idle_after.is_zero() {
            self.derive_alongside_if_due().await?;
        } else if self.underived >= self.derive_every {
            report.derive_secs = self.derive().await?;
            report.stopped_to_derive = true;
        }
        Ok(report)
    }
}

/// Recent block headers to record with a batch, for reorg detection.
#[derive(Debug, Default)]
pub struct RecentBlocks<'a> {
    /// Headers to record (replacing any stored for the same numbers).
    pub headers: &'a [Header],
    /// Forget recorded headers below this block.
    pub keep_from: Option<u64>,
}

impl RecentBlocks<'_> {
    /// Nothing to record.
    pub const NONE: RecentBlocks<'static> = RecentBlocks {
        headers: &[],
        keep_from: None,
    };
}

/// The ranges queued for derivation now (flow.derive_queue ids) and their rows.
async fn queued(client: &Client) -> Result<(Vec<i64>, i64), DbError> {
    let row = client
        .query_one(
            "SELECT coalesce(array_agg(id ORDER BY id), '{}'), coalesce(sum(rows), 0)::bigint \
             FROM flow.derive_queue",
            &[],
        )
        .await
        .map_err(DbError::query("reading flow.derive_queue"))?;
    Ok((row.get(0), row.get(1)))
}

/// Derives the queued ranges `ids` in two parts by wallet, one on each connection at the same
/// time, then takes them off the queue. Each part commits on its own; until the ranges are
/// off the queue, a later flow.derive would derive them again, adding nothing twice.
async fn derive_in_parts(a: &Client, b: &Client, ids: &[i64]) -> Result<(), DbError> {
    futures::try_join!(derive_part(a, 0, ids), derive_part(b, 1, ids))?;
    a.execute("DELETE FROM flow.derive_queue WHERE id = ANY ($1)", &[&ids])
        .await
        .map_err(DbError::query(
            "taking derived ranges off flow.derive_queue",
        ))?;
    Ok(())
}

/// One of two parts of the ranges `ids` (flow.derive_part), in its own transaction.
async fn derive_part(client: &Client, part: i32, ids: &[i64]) -> Result<(), DbError> {
    client
        .execute("SELECT flow.derive_part($1, 2, $2)", &[&part, &ids])
        .await
        .map_err(DbError::query(format!(
            "deriving positions, part {} of 2 (flow.derive_part)",
            part + 1
        )))?;
    Ok(())
}

/// flow.derive(): everything queued, or the oldest ranges up to about `max_rows` rows.
async fn run_derive(client: &Client, max_rows: Option<u64>) -> Result<(), DbError> {
    let max_rows = max_rows.map(|n| n as i64);
    client
        .execute("SELECT flow.derive($1)", &[&max_rows])
        .await
        .map_err(DbError::query("deriving positions (flow.derive)"))?;
    Ok(())
}

/// Makes `t`'s staging table in this session and prepares its COPY and INSERT.
///
/// Staging tables are ON COMMIT DELETE ROWS, and the COMMIT of any transaction that touched a
/// temporary table empties every one of them: with its TOAST table and that table's index
/// rebuilt, about 0.4 ms each (psql: 5 staging tables made a one-row COMMIT take 2 ms, 1 made
/// it take 0.5 ms). So a table gets one only when it first takes the staged path, and the
/// blocks go in without one: a head block's fills (direct) and block row touch none.
async fn make_staged(client: &impl GenericClient, t: Table) -> Result<Staged, DbError> {
    let stage = format!("stage_{}", t.kind());
    client
        .batch_execute(&format!(
            "CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
            t.name()
        ))
        .await
        .map_err(DbError::query(format!("creating staging table {stage}")))?;
    let cols = t.columns();
    let copy = client
        .prepare(&format!("COPY {stage} ({cols}) FROM STDIN (FORMAT binary)"))
        .await
        .map_err(DbError::query(format!("preparing COPY into {stage}")))?;
    let insert = client
        .prepare(&format!(
            "INSERT INTO {} ({cols}) SELECT {cols} FROM {stage} ON CONFLICT {} DO NOTHING",
            t.name(),
            t.conflict_key()
        ))
        .await
        .map_err(DbError::query(format!(
            "preparing insert into {}",
            t.name()
        )))?;
    Ok(Staged { copy, insert })
}

/// Sends one binary COPY payload through a prepared `COPY … FROM STDIN`.
async fn copy_in(
    tx: &tokio_postgres::Transaction<'_>,
    copy: &Statement,
    bytes: bytes::Bytes,
) -> Result<(), tokio_postgres::Error> {
    let sink = tx.copy_in::<_, bytes::Bytes>(copy).await?;
    futures::pin_mut!(sink);
    sink.send(bytes).await?;
    sink.finish().await?;
    Ok(())
}
