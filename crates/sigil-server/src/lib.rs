#![doc = include_str!("../README.md")]

mod accounts;
mod clock;
mod config;
mod error;
mod handlers;
mod keyring;
mod master_key;
mod metrics;
mod middleware;
mod routes;
mod serve;
mod state;

pub use accounts::Registry;
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{
    Config, DEFAULT_CONFIG_FILE, EXAMPLE_CONFIG, Overrides, RateLimitConfig, Settings, Switch,
};
pub use error::{ApiError, ConfigError, ServeError};
pub use handlers::openapi::document as openapi_document;
pub use keyring::{
    KeyError, KeyRing, PublishedKey, Rotation, Sealing, check_writable, ensure_current, new_key,
    rotate, seal,
};
pub use master_key::{AtRest, MIN_MASTER_KEY_LEN, MasterKey, MasterKeyError, is_sealed};
pub use metrics::{MethodLabel, Metrics, RouteLabel};
pub use middleware::REQUEST_ID;
pub use routes::{router, with_middleware};
pub use serve::{run, serve, shutdown_signal};
pub use sigil_edge::{BucketConfig, Decision, IpNet, KeyedLimiter, client_addr};
pub use state::AppState;
