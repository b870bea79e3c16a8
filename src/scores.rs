//! Point-in-time score snapshots: taking one now or as of a past block, and the schedule the
//! indexer keeps (parameters score_refresh_blocks and score_refresh_minutes). The scoring itself
//! is SQL (functions/060_scores.sql); this module only decides when and reports.

use std::{fmt, future::Future, time::Duration};

use tokio_postgres::Client;

use crate::db::{self, DbError};

/// What one snapshot did.
#[derive(Debug, Clone)]
pub struct SnapshotReport {
    /// Its id in flow.score_snapshots.
    pub snapshot_id: i64,
    /// The last block it could see.
    pub as_of_block: i64,
    /// Wallets scored.
    pub wallets: i32,
    /// Seconds spent refreshing wallet_stats (head snapshots only).
    pub stats_secs: f64,
    /// Seconds spent scoring.
    pub score_secs: f64,
}

impl fmt::Display for SnapshotReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "score snapshot {} as of block {}: {} wallets scored in {:.2}s (wallet_stats refresh {:.2}s)",
            self.snapshot_id, self.as_of_block, self.wallets, self.score_secs, self.stats_secs
        )
    }
}

/// Takes a snapshot as of `block` (`None`: the head, refreshing the `wallet_stats` view too).
pub async fn snapshot(
    client: &Client,
    block: Option<i64>,
    reason: &str,
) -> Result<SnapshotReport, DbError> {
    let mut stats_secs = 0.0;
    if block.is_none() {
        let t = std::time::Instant::now();
        client
            .batch_execute(
                "SELECT flow.derive(); REFRESH MATERIALIZED VIEW CONCURRENTLY wallet_stats",
            )
            .await
            .map_err(DbError::query("refreshing wallet_stats"))?;
        stats_secs = t.elapsed().as_secs_f64();
    }
    let t = std::time::Instant::now();
    let id: i64 = client
        .query_one(
            "SELECT flow.take_score_snapshot($1, $2)",
            &[&block, &reason],
        )
        .await
        .map_err(DbError::query("taking a score snapshot"))?
        .get(0);
    let row = client
        .query_one(
            "SELECT as_of_block, wallets FROM flow.score_snapshots WHERE snapshot_id = $1",
            &[&id],
        )
        .await
        .map_err(DbError::query("reading the score snapshot"))?;
    Ok(SnapshotReport {
        snapshot_id: id,
        as_of_block: row.get(0),
        wallets: row.get(1),
        stats_secs,
        score_secs: t.elapsed().as_secs_f64(),
    })
}

/// Whether the schedule asks for a snapshot now (flow.score_due()).
pub async fn due(client: &Client) -> Result<bool, DbError> {
    client
        .query_one("SELECT flow.score_due()", &[])
        .await
        .map(|r| r.get(0))
        .map_err(DbError::query("checking the score schedule"))
}

/// Runs beside the indexer: every `check_every`, takes a head snapshot when the schedule says
/// so. Its own connection; a failure is logged and retried next time, never stopping indexing.
pub async fn run_refresher(
    database_url: String,
    check_every: Duration,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut client: Option<Client> = None;
    tracing::info!(target: "orderflow::scores", every_secs = check_every.as_secs(), "score refresher started");
    loop {
        let cycle = async {
            if client.as_ref().map_or(true, |c| c.is_closed()) {
                client = Some(db::connect(&database_url).await?);
            }
            let c = client.as_ref().expect("connected above");
            if due(c).await? {
                snapshot(c, None, "schedule").await.map(Some)
            } else {
                Ok(None)
            }
        };
        tokio::select! {
            r = cycle => match r {
                Ok(Some(r)) => tracing::info!(target: "orderflow::scores", "{r}"),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(target: "orderflow::scores", error = %e,
                                   "score snapshot failed; indexing goes on, retrying next time");
                    if e.is_retryable() {
                        client = None;
                    }
                }
            },
            _ = &mut shutdown => break,
        }
        tokio::select! {
            _ = tokio::time::sleep(check_every) => {}
            _ = &mut shutdown => break,
        }
    }
    tracing::info!(target: "orderflow::scores", "score refresher stopped");
}
