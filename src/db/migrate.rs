//! `orderflow migrate`: versioned migrations (refinery, append-only), then the repeatable SQL,
//! all under one advisory lock so concurrent migrates queue instead of colliding.

use tokio_postgres::Client;

use super::{DbError, SqlDir};

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// What a migrate did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateReport {
    /// Versioned migrations newly applied.
    pub applied: Vec<String>,
    /// Repeatable files applied.
    pub repeatable_files: usize,
}

/// Applies pending migrations, then every file of views/ and functions/ in one transaction.
pub async fn migrate(client: &mut Client, sql: &SqlDir) -> Result<MigrateReport, DbError> {
    const LOCK: i64 = 0x6f72_6465_7266_6c6f; // "orderflo"
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK])
        .await
        .map_err(DbError::query("taking the migrate lock"))?;
    let result = run(client, sql).await;
    let _ = client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK])
        .await;
    result
}

async fn run(client: &mut Client, sql: &SqlDir) -> Result<MigrateReport, DbError> {
    let report = embedded::migrations::runner()
        .set_grouped(true)
        .run_async(client)
        .await?;
    let applied = report
        .applied_migrations()
        .iter()
        .map(|m| m.to_string())
        .collect();
    let tx = client
        .transaction()
        .await
        .map_err(DbError::query("opening the repeatable-SQL transaction"))?;
    let repeatable_files = sql.apply(&tx).await?;
    tx.commit()
        .await
        .map_err(DbError::query("committing the repeatable SQL"))?;
    Ok(MigrateReport {
        applied,
        repeatable_files,
    })
}
