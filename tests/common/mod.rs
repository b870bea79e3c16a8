//! Test harness: a fresh, migrated database per test, dropped afterwards.
//! Where the server comes from: DATABASE_URL if set; else testcontainers when a Docker engine
//! answers; else a throwaway cluster from the local initdb/pg_ctl. Each test prints which.

#![allow(dead_code)]

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::{
        atomic::{AtomicU32, Ordering},
        OnceLock,
    },
};

pub mod net;

use orderflow::{bench::with_dbname, db};

/// A database that exists for one test.
pub struct TestDb {
    /// URL of the test's own database.
    pub url: String,
    name: String,
    admin_url: String,
}

struct Server {
    admin_url: String,
    backend: &'static str,
}

static SERVER: OnceLock<Server> = OnceLock::new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        if let Ok(url) = std::env::var("DATABASE_URL") {
            return Server {
                admin_url: url,
                backend: "DATABASE_URL",
            };
        }
        // Both start blocking work of their own: keep it off the test's async runtime.
        std::thread::spawn(|| {
            if docker_answers() {
                container()
            } else {
                local_cluster()
            }
        })
        .join()
        .expect("start a test Postgres")
    })
}

fn docker_answers() -> bool {
    Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn container() -> Server {
    use testcontainers::{core::WaitFor, runners::SyncRunner, GenericImage, ImageExt};
    let c = GenericImage::new("postgres", "15")
        .with_wait_for(WaitFor::message_on_stderr(
            "database system is ready to accept connections",
        ))
        .with_env_var("POSTGRES_HOST_AUTH_METHOD", "trust")
        .start()
        .expect("start a postgres container");
    let port = c.get_host_port_ipv4(5432).expect("container port");
    // The container lives as long as the test process.
    std::mem::forget(c);
    Server {
        admin_url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        backend: "testcontainers",
    }
}

static CLUSTER_DIR: OnceLock<PathBuf> = OnceLock::new();

extern "C" fn stop_cluster() {
    if let Some(dir) = CLUSTER_DIR.get() {
        let _ = as_db_user(&format!(
            "pg_ctl -D {} -m immediate stop",
            dir.join("data").display()
        ))
        .status();
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Runs a shell command as the current user, or as `postgres` when we are root (initdb refuses root).
fn as_db_user(cmd: &str) -> Command {
    let bin = pg_bin_dir();
    let cmd = format!("PATH={}:$PATH {cmd}", bin.display());
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", "sh", "-c", &cmd]);
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-c", &cmd]);
        c
    }
}

fn pg_bin_dir() -> PathBuf {
    if let Ok(o) = Command::new("pg_config").arg("--bindir").output() {
        if o.status.success() {
            return PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
        }
    }
    PathBuf::from("/usr/lib/postgresql/15/bin")
}

fn local_cluster() -> Server {
    let dir = std::env::temp_dir().join(format!("orderflow-pg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("cluster dir");
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let _ = Command::new("chown")
            .args(["-R", "postgres", &dir.display().to_string()])
            .status();
    }
    let port = 20_000 + (std::process::id() % 20_000) as u16;
    let data = dir.join("data");
    let ok = as_db_user(&format!("initdb -A trust -U postgres -D {} >/dev/null", data.display()))
        .status()
        .is_ok_and(|s| s.success())
        && as_db_user(&format!(
            "pg_ctl -D {} -l {} -o '-p {port} -k {} -c listen_addresses=127.0.0.1' -w start >/dev/null",
            data.display(),
            dir.join("log").display(),
            dir.display()
        ))
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "no DATABASE_URL, no Docker, and no usable initdb/pg_ctl: set DATABASE_URL to a Postgres server");
    CLUSTER_DIR.set(dir).ok();
    // SAFETY: registering a plain extern "C" fn with atexit.
    unsafe { libc::atexit(stop_cluster) };
    Server {
        admin_url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        backend: "local initdb cluster",
    }
}

impl TestDb {
    /// A fresh database with the schema applied.
    pub async fn new() -> TestDb {
        let s = server();
        let name = format!(
            "orderflow_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        let admin = db::connect(&s.admin_url)
            .await
            .expect("connect to the test server");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        eprintln!(
            "test database {name} on {} ({})",
            s.backend,
            db::redact_url(&s.admin_url)
        );
        let url = with_dbname(&s.admin_url, &name);
        let mut client = db::connect(&url).await.unwrap();
        db::migrate(&mut client, &db::SqlDir(repo()))
            .await
            .expect("migrate");
        TestDb {
            url,
            name,
            admin_url: s.admin_url.clone(),
        }
    }

    /// A new connection to the test database.
    pub async fn client(&self) -> tokio_postgres::Client {
        db::connect(&self.url).await.unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (admin, name) = (self.admin_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(c) = db::connect(&admin).await {
                    let _ = c
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// The repository root (views/, functions/, tests/fixtures/).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixture file's path.
pub fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures").join(name)
}

/// Writes lines to a temporary file and returns its path.
pub fn temp_file(tag: &str, lines: &[String]) -> PathBuf {
    let p = std::env::temp_dir().join(format!(
        "orderflow-{tag}-{}-{}.jsonl",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

/// Imports a file through the library, as `indexer import` does.
pub async fn import_file(
    db: &TestDb,
    path: &Path,
    batch_size: usize,
) -> orderflow::ingest::ImportSummary {
    let mut w = orderflow::ingest::Writer::new(db.client().await)
        .await
        .unwrap();
    let opts = orderflow::ingest::ImportOptions {
        batch_size,
        ..Default::default()
    };
    let f = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    orderflow::ingest::import(
        f,
        &path.display().to_string(),
        None,
        &mut w,
        &opts,
        std::future::pending(),
    )
    .await
    .unwrap()
}

/// A fresh database holding a simulated world, imported as `indexer import` does, with the
/// world's ground truth.
pub async fn sim_db(cfg: orderflow::sim::SimConfig) -> (TestDb, orderflow::sim::Truth) {
    let sim = orderflow::sim::Sim::new(cfg).expect("a valid simulation config");
    let truth = sim.truth();
    let lines: Vec<String> = sim
        .flat_map(|b| b.into_raw_logs())
        .map(|l| l.to_json())
        .collect();
    let path = temp_file("sim", &lines);
    let db = TestDb::new().await;
    import_file(&db, &path, 20_000).await;
    std::fs::remove_file(&path).ok();
    (db, truth)
}

/// One number from a query.
pub async fn scalar_i64(c: &tokio_postgres::Client, sql: &str) -> i64 {
    c.query_one(sql, &[]).await.unwrap().get(0)
}
