//! The repeatable SQL: `functions/` then `views/`, each in file-name order, applied inside the
//! caller's transaction. A broken edit fails the whole transaction, so the old logic stays.

use std::path::{Path, PathBuf};

use tokio_postgres::Transaction;

use super::DbError;

/// The folders applied, in this order.
pub const FOLDERS: [&str; 2] = ["functions", "views"];

/// Where `functions/` and `views/` live.
#[derive(Debug, Clone)]
pub struct SqlDir(pub PathBuf);

impl SqlDir {
    /// `ORDERFLOW_SQL_DIR` if set; else the current directory if it holds `views/`; else the
    /// source tree this binary was built from.
    pub fn locate(explicit: Option<&Path>) -> SqlDir {
        if let Some(p) = explicit {
            return SqlDir(p.to_owned());
        }
        if Path::new("views").is_dir() && Path::new("functions").is_dir() {
            return SqlDir(PathBuf::from("."));
        }
        SqlDir(PathBuf::from(env!("CARGO_MANIFEST_DIR")))
    }

    /// Every repeatable file in application order.
    pub fn files(&self) -> Result<Vec<PathBuf>, DbError> {
        let mut all = Vec::new();
        for folder in FOLDERS {
            let dir = self.0.join(folder);
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map_err(|source| DbError::SqlDir {
                    path: dir.display().to_string(),
                    source,
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "sql"))
                .collect();
            files.sort();
            all.extend(files);
        }
        Ok(all)
    }

    /// Applies every file inside `tx`; the first failure names its file and line.
    pub async fn apply(&self, tx: &Transaction<'_>) -> Result<usize, DbError> {
        let files = self.files()?;
        for file in &files {
            let shown = file
                .strip_prefix(&self.0)
                .unwrap_or(file)
                .display()
                .to_string();
            let text = std::fs::read_to_string(file).map_err(|source| DbError::SqlDir {
                path: file.display().to_string(),
                source,
            })?;
            tx.batch_execute(&text)
                .await
                .map_err(|e| sql_error(&shown, &text, &e))?;
        }
        Ok(files.len())
    }
}

/// Turns a server error on `text` into file:line: message.
fn sql_error(file: &str, text: &str, e: &tokio_postgres::Error) -> DbError {
    let Some(db) = e.as_db_error() else {
        return DbError::SqlFile {
            file: file.to_owned(),
            line: 1,
            message: e.to_string(),
        };
    };
    let line = match db.position() {
        Some(tokio_postgres::error::ErrorPosition::Original(pos)) => {
            let upto: String = text.chars().take(*pos as usize).collect();
            upto.matches('\n').count() + 1
        }
        _ => line_of_where(text, db.where_()).unwrap_or(1),
    };
    let mut message = db.message().to_owned();
    if let Some(d) = db.detail() {
        message.push_str(&format!(" ({d})"));
    }
    if let Some(w) = db.where_() {
        message.push_str(&format!(" [{w}]"));
    }
    DbError::SqlFile {
        file: file.to_owned(),
        line,
        message,
    }
}

/// For errors raised inside a function body ("PL/pgSQL function f(…) line N …"), the line of
/// the function's definition plus N.
fn line_of_where(text: &str, where_: Option<&str>) -> Option<usize> {
    let w = where_?;
    let name = w
        .strip_prefix("PL/pgSQL function ")?
        .split('(')
        .next()?
        .rsplit('.')
        .next()?
        .to_owned();
    let n: usize = w
        .split(" line ")
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let def = text
        .lines()
        .position(|l| l.contains("FUNCTION") && l.contains(&name))?;
    Some(def + n)
}
