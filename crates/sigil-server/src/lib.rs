#![doc = include_str!("../README.md")]

mod accounts;
mod clock;
mod config;
mod error;
mod handlers;
mod keyring;
mod limits;
mod master_key;
mod metrics;
mod middleware;
mod routes;
mod serve;
mod state;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{
    Config, DEFAULT_CONFIG_FILE, EXAMPLE_CONFIG, OAuthConfig, Overrides, RateLimitConfig, Settings,
    Switch, WalletSettings,
};
pub use error::{ApiError, ConfigError, ServeError};
pub use keyring::{KeyError, Rotation, Sealing, rotate, seal};
pub use master_key::{AtRest, MIN_MASTER_KEY_LEN, MasterKey, MasterKeyError};
pub use metrics::Metrics;
pub use routes::{router, with_middleware};
pub use serve::{open_store, run, serve, shutdown_signal};
pub use sigil_edge::{BucketConfig, IpNet};
pub use state::AppState;
