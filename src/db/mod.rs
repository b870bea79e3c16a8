//! Postgres: connections, migrations and the repeatable SQL (views/, functions/) read from disk.

pub mod cached;
pub mod cluster;
pub mod migrate;
pub mod sql_files;

use thiserror::Error;
use tokio_postgres::{Client, NoTls};

pub use cached::{CachedTx, StatementCache};
pub use migrate::migrate;
pub use sql_files::SqlDir;

/// Database errors of this layer.
#[derive(Debug, Error)]
pub enum DbError {
    /// Could not connect (bad URL, server down, auth).
    #[error("cannot connect to Postgres at {url}: {}", pg_message(error))]
    Connect {
        /// The URL with any password masked.
        url: String,
        /// Driver error.
        error: tokio_postgres::Error,
    },
    /// A statement failed.
    #[error("{context}: {}", pg_message(error))]
    Query {
        /// What we were doing.
        context: String,
        /// Driver error (its message names the server's complaint).
        error: tokio_postgres::Error,
    },
    /// A versioned migration failed.
    #[error("migration failed: {0}")]
    Migration(#[from] refinery::Error),
    /// A repeatable SQL file failed; nothing of this migrate was kept.
    #[error("{file}:{line}: {message}")]
    SqlFile {
        /// File path.
        file: String,
        /// 1-based line of the error (the start of the file when the server gave no position).
        line: usize,
        /// The server's message and detail.
        message: String,
    },
    /// The views/ or functions/ folder cannot be read.
    #[error("cannot read SQL folder {path}: {source}")]
    SqlDir {
        /// Folder path.
        path: String,
        /// I/O error.
        source: std::io::Error,
    },
}

impl DbError {
    /// True when retrying later may succeed (connection trouble rather than bad SQL or data).
    pub fn is_retryable(&self) -> bool {
        match self {
            DbError::Connect { .. } => true,
            DbError::Query { error, .. } => {
                error.is_closed() || error.as_db_error().is_none() || cached::is_stale(error)
            }
            _ => false,
        }
    }

    /// Wraps a driver error with what we were doing.
    pub fn query(context: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> DbError {
        let context = context.into();
        move |error| DbError::Query { context, error }
    }
}

/// The server's message with its detail and hint, or the driver's own message.
pub fn pg_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut m = db.message().to_owned();
            if let Some(d) = db.detail() {
                m.push_str(&format!(" ({d})"));
            }
            if let Some(h) = db.hint() {
                m.push_str(&format!("; hint: {h}"));
            }
            m
        }
        None => {
            use std::error::Error;
            match e.source() {
                Some(s) => format!("{e}: {s}"),
                None => e.to_string(),
            }
        }
    }
}

/// The URL with its password replaced by `***`, fit for logs and errors.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((userinfo, host)) = rest.rsplit_once('@') {
            if let Some((user, _)) = userinfo.split_once(':') {
                return format!("{scheme}://{user}:***@{host}");
            }
        }
    }
    url.to_owned()
}

/// Opens one connection and drives it on the runtime.
pub async fn connect(url: &str) -> Result<Client, DbError> {
    let (client, conn) =
        tokio_postgres::connect(url, NoTls)
            .await
            .map_err(|error| DbError::Connect {
                url: redact_url(url),
                error,
            })?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::warn!(target: "orderflow::db", error = %e, "postgres connection closed");
        }
    });
    Ok(client)
}

/// A connection pool for services.
pub fn pool(url: &str, size: usize) -> Result<deadpool_postgres::Pool, DbError> {
    let pg: tokio_postgres::Config = url.parse().map_err(|error| DbError::Connect {
        url: redact_url(url),
        error,
    })?;
    let mgr = deadpool_postgres::Manager::from_config(
        pg,
        NoTls,
        deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Fast,
        },
    );
    Ok(deadpool_postgres::Pool::builder(mgr)
        .max_size(size)
        .build()
        .expect("pool without runtime-specific options builds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_password() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    }
}
