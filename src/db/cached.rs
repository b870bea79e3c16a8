//! Statements prepared once per connection and kept: a statement sent as text costs two round
//! trips (prepare, then execute) and a parse and plan on the server every time; a kept one
//! costs one round trip and is planned from its cached plan.
//!
//! A [`StatementCache`] belongs to one connection: prepared statements live in the server
//! session that prepared them. Whoever reconnects calls [`StatementCache::clear`].

use std::{collections::HashMap, sync::Mutex};

use tokio_postgres::{error::SqlState, types::ToSql, Error, Row, Statement, Transaction};

/// The statements prepared so far on one connection, by their SQL text.
#[derive(Debug, Default)]
pub struct StatementCache {
    kept: Mutex<HashMap<String, Statement>>,
}

impl StatementCache {
    /// The statement for `sql`, prepared on `tx`'s connection the first time it is asked for.
    pub async fn get(&self, tx: &Transaction<'_>, sql: &str) -> Result<Statement, Error> {
        if let Some(s) = self.lock().get(sql) {
            return Ok(s.clone());
        }
        let s = tx.prepare(sql).await?;
        self.lock().insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    /// Forgets every statement (the connection they were prepared on is gone).
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Statement>> {
        // The map stays consistent even if a holder panicked: every insert is whole.
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// True for the errors a kept statement gives once it no longer fits the server session: the
/// session is not the one that prepared it, or a migrate changed the result type of a view or
/// function it reads. A new connection (and an empty cache) cures both.
pub fn is_stale(e: &Error) -> bool {
    e.code().is_some_and(|c| {
        *c == SqlState::INVALID_SQL_STATEMENT_NAME
            || (*c == SqlState::FEATURE_NOT_SUPPORTED
                && e.as_db_error().is_some_and(|d| {
                    d.message()
                        .contains("cached plan must not change result type")
                }))
    })
}

/// A transaction whose statements go through a [`StatementCache`]: the same calls as
/// [`Transaction`]'s, taking SQL text.
pub struct CachedTx<'a> {
    tx: Transaction<'a>,
    cache: &'a StatementCache,
}

impl<'a> CachedTx<'a> {
    /// Wraps `tx`; `cache` must belong to its connection.
    pub fn new(tx: Transaction<'a>, cache: &'a StatementCache) -> Self {
        CachedTx { tx, cache }
    }

    /// The transaction itself, for what the cache does not cover (COPY, savepoints).
    pub fn inner(&self) -> &Transaction<'a> {
        &self.tx
    }

    /// Prepares whichever of `sqls` are not kept yet (together, one round trip at most).
    /// Statements sent together run on the server in the order they were sent only when none
    /// of them still has to be prepared first: call this before such a group.
    pub async fn prepare_all(&self, sqls: &[&str]) -> Result<(), Error> {
        let missing: Vec<&str> = {
            let kept = self.cache.lock();
            sqls.iter()
                .copied()
                .filter(|q| !kept.contains_key(*q))
                .collect()
        };
        futures::future::try_join_all(missing.iter().map(|q| self.cache.get(&self.tx, q))).await?;
        Ok(())
    }

    /// [`Transaction::query`] through the cache.
    pub async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, Error> {
        let s = self.cache.get(&self.tx, sql).await?;
        self.tx.query(&s, params).await
    }

    /// [`Transaction::query_one`] through the cache.
    pub async fn query_one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, Error> {
        let s = self.cache.get(&self.tx, sql).await?;
        self.tx.query_one(&s, params).await
    }

    /// [`Transaction::query_opt`] through the cache.
    pub async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, Error> {
        let s = self.cache.get(&self.tx, sql).await?;
        self.tx.query_opt(&s, params).await
    }

    /// [`Transaction::execute`] through the cache.
    pub async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, Error> {
        let s = self.cache.get(&self.tx, sql).await?;
        self.tx.execute(&s, params).await
    }

    /// Commits the transaction.
    pub async fn commit(self) -> Result<(), Error> {
        self.tx.commit().await
    }

    /// Rolls the transaction back.
    pub async fn rollback(self) -> Result<(), Error> {
        self.tx.rollback().await
    }
}
