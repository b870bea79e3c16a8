//! A throwaway Postgres cluster from the machine's own initdb/pg_ctl, for when no server is
//! configured: the demo starts one under its output folder, the tests under the temp folder.
//! As root it runs the server as the `postgres` user (initdb refuses root).

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context};

/// A running local cluster; `stop` (or drop) shuts it down and keeps its files.
pub struct LocalCluster {
    data: PathBuf,
    /// Its URL (database postgres, user postgres, trust auth).
    pub url: String,
    stopped: bool,
}

impl LocalCluster {
    /// initdb (when `dir/data` does not exist yet) and start a server on `port`, listening on
    /// 127.0.0.1 and a socket in `dir`.
    pub fn start(dir: &Path, port: u16) -> anyhow::Result<LocalCluster> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the cluster folder {}", dir.display()))?;
        let dir = dir
            .canonicalize()
            .with_context(|| format!("cannot resolve {}", dir.display()))?;
        if is_root() {
            // The server runs as postgres and must own its folder.
            let _ = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(&dir)
                .status();
        }
        let data = dir.join("data");
        if !data.join("PG_VERSION").is_file() {
            run_as_db_user(&format!(
                "initdb -A trust -U postgres -D '{}' >'{}' 2>&1",
                data.display(),
                dir.join("initdb.log").display()
            ))
            .with_context(|| {
                format!(
                    "initdb failed (see {}); install PostgreSQL or set DATABASE_URL",
                    dir.join("initdb.log").display()
                )
            })?;
        }
        run_as_db_user(&format!(
            "pg_ctl -D '{}' -l '{}' -o \"-p {port} -k '{}' -c listen_addresses=127.0.0.1\" -w start >/dev/null",
            data.display(),
            dir.join("server.log").display(),
            dir.display()
        ))
        .with_context(|| {
            format!(
                "pg_ctl could not start a server on port {port} (see {})",
                dir.join("server.log").display()
            )
        })?;
        Ok(LocalCluster {
            data,
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            stopped: false,
        })
    }

    /// Stops the server (fast shutdown).
    pub fn stop(&mut self) -> anyhow::Result<()> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        run_as_db_user(&format!(
            "pg_ctl -D '{}' -m fast -w stop >/dev/null",
            self.data.display()
        ))
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// True when the machine has initdb and pg_ctl to start a cluster with.
pub fn can_start() -> bool {
    bin_dir().join("initdb").is_file() && bin_dir().join("pg_ctl").is_file()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Runs a shell command as the current user, or as `postgres` when we are root.
fn run_as_db_user(cmd: &str) -> anyhow::Result<()> {
    let cmd = format!("PATH='{}':\"$PATH\" {cmd}", bin_dir().display());
    let mut c = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", "sh", "-c", &cmd]);
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-c", &cmd]);
        c
    };
    let status = c.status().context("cannot run sh")?;
    if !status.success() {
        bail!("{status}");
    }
    Ok(())
}

/// Where initdb and pg_ctl live: pg_config's bindir, else the newest Debian-style
/// /usr/lib/postgresql/N/bin.
fn bin_dir() -> PathBuf {
    if let Ok(o) = Command::new("pg_config").arg("--bindir").output() {
        if o.status.success() {
            let p = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
            if p.join("initdb").is_file() {
                return p;
            }
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").is_file())
        .collect();
    versions.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    versions
        .pop()
        .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"))
}
