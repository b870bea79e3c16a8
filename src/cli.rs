//! Arguments shared by the binaries (every flag has an env twin).

use clap::Args;

use crate::chain::Contracts;

/// Where the database is.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Postgres URL.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres",
        hide_env_values = true
    )]
    pub database_url: String,
}

/// Logging.
#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// Log as JSON lines instead of text.
    #[arg(long, env = "ORDERFLOW_LOG_JSON")]
    pub log_json: bool,
}

/// Which contracts are decoded.
#[derive(Debug, Clone, Args)]
pub struct ContractArgs {
    /// Replace the default contract list: `kind:0xaddress,…` with kinds exchange_v1,
    /// negrisk_exchange_v1, exchange_v2, negrisk_exchange_v2, ctf, negrisk_adapter, fee_module_v1.
    #[arg(long, env = "ORDERFLOW_CONTRACTS")]
    pub contracts: Option<Contracts>,
}

impl ContractArgs {
    /// The configured list, or the real Polygon contracts.
    pub fn contracts(&self) -> Contracts {
        self.contracts.clone().unwrap_or_default()
    }
}
