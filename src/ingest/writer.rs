//! Writes a batch in ONE transaction: binary COPY into per-session staging tables, then
//! `INSERT … SELECT … ON CONFLICT DO NOTHING` into the real tables, then the cursor.

use std::collections::{BTreeMap, HashMap};

use futures::SinkExt;
use tokio_postgres::{Client, Statement};

use super::batch::{Batch, Table};
use crate::db::DbError;

/// What one write did, per table.
#[derive(Debug, Default, Clone)]
pub struct WriteReport {
    /// Rows offered per table.
    pub offered: BTreeMap<Table, u64>,
    /// Rows actually inserted per table (the rest were duplicates).
    pub inserted: BTreeMap<Table, u64>,
    /// Seconds in COPY into staging.
    pub copy_secs: f64,
    /// Seconds in INSERT … SELECT (including the triggers it fires).
    pub insert_secs: f64,
    /// Seconds in COMMIT.
    pub commit_secs: f64,
}

/// A connection dedicated to writing batches.
pub struct Writer {
    client: Client,
    /// Block ranges [from, to) known to have partitions.
    partitions: Vec<(u64, u64)>,
    statements: HashMap<Table, (Statement, Statement)>,
}

impl Writer {
    /// Takes over a connection for writing.
    pub async fn new(client: Client) -> Result<Self, DbError> {
        // Safe for exactly-once: a crash can lose only the last commits, and their cursor moves
        // with them, so a restart repeats that work instead of skipping it.
        client
            .batch_execute("SET synchronous_commit = off")
            .await
            .map_err(DbError::query("configuring the writer session"))?;
        let mut w = Writer {
            client,
            partitions: Vec::new(),
            statements: HashMap::new(),
        };
        w.load_partitions().await?;
        Ok(w)
    }

    async fn load_partitions(&mut self) -> Result<(), DbError> {
        let rows = self
            .client
            .query(
                "SELECT from_block, to_block FROM chain.partitions \
                 WHERE parent = 'chain.order_filled'::regclass ORDER BY from_block",
                &[],
            )
            .await
            .map_err(DbError::query("reading chain.partitions"))?;
        self.partitions = rows
            .iter()
            .map(|r| (r.get::<_, i64>(0) as u64, r.get::<_, i64>(1) as u64))
            .collect();
        Ok(())
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
        self.client
            .execute(
                "SELECT chain.ensure_partitions($1, $2)",
                &[&(from as i64), &(to as i64)],
            )
            .await
            .map_err(DbError::query(format!(
                "creating partitions for blocks {from}..{to}"
            )))?;
        self.load_partitions().await
    }

    async fn statements(&mut self, t: Table) -> Result<(Statement, Statement), DbError> {
        if let Some(s) = self.statements.get(&t) {
            return Ok(s.clone());
        }
        let stage = format!("stage_{}", t.kind());
        self.client
            .batch_execute(&format!(
                "CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
                t.name()
            ))
            .await
            .map_err(DbError::query(format!("creating staging table {stage}")))?;
        let cols = t.columns();
        let copy = self
            .client
            .prepare(&format!("COPY {stage} ({cols}) FROM STDIN (FORMAT binary)"))
            .await
            .map_err(DbError::query(format!("preparing COPY into {stage}")))?;
        let on_conflict = match t {
            Table::Blocks => " DO UPDATE SET block_hash = coalesce(chain.blocks.block_hash, excluded.block_hash), \
                              block_time = coalesce(chain.blocks.block_time, excluded.block_time) \
                              WHERE (chain.blocks.block_hash IS NULL AND excluded.block_hash IS NOT NULL) \
                                 OR (chain.blocks.block_time IS NULL AND excluded.block_time IS NOT NULL)",
            _ => " DO NOTHING",
        };
        let insert = self
            .client
            .prepare(&format!(
                "INSERT INTO {} ({cols}) SELECT {cols} FROM {stage} ON CONFLICT {}{on_conflict}",
                t.name(),
                t.conflict_key()
            ))
            .await
            .map_err(DbError::query(format!(
                "preparing insert into {}",
                t.name()
            )))?;
        self.statements.insert(t, (copy.clone(), insert.clone()));
        Ok((copy, insert))
    }

    /// Writes the batch and, when given, moves cursor `name` to `block`, all in one transaction.
    pub async fn write(
        &mut self,
        batch: Batch,
        cursor: Option<(&str, u64)>,
    ) -> Result<WriteReport, DbError> {
        let mut report = WriteReport::default();
        if let (Some(lo), Some(hi)) = (batch.min_block, batch.max_block) {
            self.ensure_partitions(lo, hi).await?;
        }
        let streams = batch.into_streams();
        let mut prepared = Vec::with_capacity(streams.len());
        for (t, rows, bytes) in streams {
            let (copy, insert) = self.statements(t).await?;
            prepared.push((t, rows, bytes, copy, insert));
        }
        let tx = self
            .client
            .transaction()
            .await
            .map_err(DbError::query("opening a batch transaction"))?;
        for (t, rows, bytes, copy, insert) in prepared {
            let started = std::time::Instant::now();
            let sink = tx
                .copy_in::<_, bytes::Bytes>(&copy)
                .await
                .map_err(DbError::query(format!(
                    "COPY into staging for {}",
                    t.name()
                )))?;
            futures::pin_mut!(sink);
            sink.send(bytes).await.map_err(DbError::query(format!(
                "COPY into staging for {}",
                t.name()
            )))?;
            sink.finish().await.map_err(DbError::query(format!(
                "COPY into staging for {}",
                t.name()
            )))?;
            report.copy_secs += started.elapsed().as_secs_f64();
            let started = std::time::Instant::now();
            let n = tx
                .execute(&insert, &[])
                .await
                .map_err(DbError::query(format!("inserting into {}", t.name())))?;
            report.insert_secs += started.elapsed().as_secs_f64();
            report.offered.insert(t, rows as u64);
            report.inserted.insert(t, n);
        }
        if let Some((name, block)) = cursor {
            tx.execute(
                "INSERT INTO chain.cursor (name, block_number) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET block_number = excluded.block_number, updated_at = now()",
                &[&name, &(block as i64)],
            )
            .await
            .map_err(DbError::query(format!("moving cursor {name}")))?;
        }
        let started = std::time::Instant::now();
        tx.commit()
            .await
            .map_err(DbError::query("committing a batch"))?;
        report.commit_secs = started.elapsed().as_secs_f64();
        Ok(report)
    }
}
