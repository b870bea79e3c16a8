//! The services the demo runs as real processes (`indexer`, `executor`), started from the
//! binaries next to the running `orderflow`, their output kept in log files.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use anyhow::{bail, Context};
use tokio::process::{Child, Command};

/// A service process; killed if dropped while running.
pub struct Service {
    name: &'static str,
    child: Child,
    /// Where its stdout and stderr go.
    pub log: PathBuf,
}

/// The binary `name` beside the running executable (target/release/ for `make demo`).
pub fn sibling_binary(name: &str) -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe().context("cannot locate the running executable")?;
    // Test binaries live one folder deeper (target/release/deps/).
    for dir in [me.parent(), me.parent().and_then(Path::parent)]
        .into_iter()
        .flatten()
    {
        let p = dir.join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    bail!(
        "cannot find the `{name}` binary next to {}: build it with `cargo build --release`",
        me.display()
    )
}

impl Service {
    /// Starts `name` with `args`; the database URL goes through the environment, not the
    /// command line, so `ps` does not show it.
    pub fn start(
        name: &'static str,
        args: &[String],
        database_url: &str,
        log: PathBuf,
    ) -> anyhow::Result<Service> {
        let bin = sibling_binary(name)?;
        let file = std::fs::File::create(&log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let child = Command::new(&bin)
            .args(args)
            .env("DATABASE_URL", database_url)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        Ok(Service { name, child, log })
    }

    /// Fails when the process has already exited, naming its log.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "{} exited early ({status}); its output is in {}",
                self.name,
                self.log.display()
            );
        }
        Ok(())
    }

    /// Waits for a command that ends by itself (an import), failing on a non-zero exit or
    /// after `limit`.
    pub async fn finish(mut self, limit: Duration) -> anyhow::Result<()> {
        match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(status) if status.as_ref().is_ok_and(|s| s.success()) => Ok(()),
            Ok(status) => bail!(
                "{} failed ({}); its output is in {}",
                self.name,
                status.map_or_else(|e| e.to_string(), |s| s.to_string()),
                self.log.display()
            ),
            Err(_) => bail!(
                "{} did not finish within {}s; its output is in {}",
                self.name,
                limit.as_secs(),
                self.log.display()
            ),
        }
    }

    /// SIGTERM (the services finish their current batch and exit 0), then SIGKILL after
    /// `grace`. Returns how it ended.
    pub async fn stop(mut self, grace: Duration) -> anyhow::Result<String> {
        if let Some(pid) = self.child.id() {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        }
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(status) => {
                let status = status?;
                if status.success() {
                    Ok(format!("{} stopped (exit 0)", self.name))
                } else {
                    Ok(format!(
                        "{} stopped with {status}; see {}",
                        self.name,
                        self.log.display()
                    ))
                }
            }
            Err(_) => {
                self.child.kill().await?;
                Ok(format!(
                    "{} did not stop within {}s and was killed",
                    self.name,
                    grace.as_secs()
                ))
            }
        }
    }
}
