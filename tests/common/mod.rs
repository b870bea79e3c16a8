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

static CLUSTER: OnceLock<std::sync::Mutex<(db::cluster::LocalCluster, PathBuf)>> = OnceLock::new();

extern "C" fn stop_cluster() {
    if let Some(c) = CLUSTER.get() {
        if let Ok(mut c) = c.lock() {
            let _ = c.0.stop();
            let _ = std::fs::remove_dir_all(&c.1);
        }
    }
}

fn local_cluster() -> Server {
    let dir = std::env::temp_dir().join(format!("orderflow-pg-{}", std::process::id()));
    let port = 20_000 + (std::process::id() % 20_000) as u16;
    let cluster = db::cluster::LocalCluster::start(&dir, port).unwrap_or_else(|e| {
        panic!("no DATABASE_URL, no Docker, and no usable initdb/pg_ctl ({e:#}): set DATABASE_URL to a Postgres server")
    });
    let admin_url = cluster.url.clone();
    CLUSTER.set(std::sync::Mutex::new((cluster, dir))).ok();
    // SAFETY: registering a plain extern "C" fn with atexit.
    unsafe { libc::atexit(stop_cluster) };
    Server {
        admin_url,
        backend: "local initdb cluster",
    }
}

/// A database name no other test uses.
pub fn unique_db_name() -> String {
    format!(
        "orderflow_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    )
}

/// The test server's URL (its `postgres` database), for commands that make databases of
/// their own.
pub fn admin_url() -> String {
    server().admin_url.clone()
}

impl TestDb {
    /// A fresh database with the schema applied.
    pub async fn new() -> TestDb {
        let s = server();
        let name = unique_db_name();
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

/// The repository root (views/, functions/, tests/fixtures/): the one cargo runs the tests in
/// (it sets CARGO_MANIFEST_DIR for them), else the one they were built from. Cargo reuses a
/// test binary built from another clone of the same sources in a shared target folder, with
/// that clone's path compiled in, and the clone may be gone.
pub fn repo() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
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
    w.derive_alongside(db.client().await).await.unwrap();
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

/// The first column of a query's rows, as text.
pub async fn strings(c: &tokio_postgres::Client, sql: &str) -> Vec<String> {
    c.query(sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// One number from a query.
pub async fn scalar_i64(c: &tokio_postgres::Client, sql: &str) -> i64 {
    c.query_one(sql, &[]).await.unwrap().get(0)
}

/// Sets strategy parameters for the test's database.
pub async fn set_params(c: &tokio_postgres::Client, values: &[(&str, i64)]) {
    for (name, value) in values {
        c.execute(
            "UPDATE strategy.parameters SET value = $2 WHERE name = $1",
            &[name, &rust_decimal::Decimal::from(*value)],
        )
        .await
        .unwrap();
    }
}
