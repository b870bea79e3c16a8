//! Ingestion: decoded logs in batches, written exactly once with the cursor in the same
//! transaction.

pub mod batch;
pub mod copy;
pub mod follow;
pub mod import;
pub mod writer;

pub use batch::{Batch, Table, TokenDeriver};
pub use follow::{follow, FollowError, FollowOptions, FollowSummary};
pub use import::{import, ImportOptions, ImportSummary};
pub use writer::{RecentBlocks, WriteReport, Writer};
