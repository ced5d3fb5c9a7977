#![doc = include_str!("../README.md")]

mod admission;
mod authenticated;
mod builder;
mod credentials;
mod error;
mod extract;
mod fetch;
mod key_cache;
mod layer;
#[cfg(feature = "redis")]
mod redis_guard;
mod replay;
mod validator;
mod x_auth_mode;

pub use admission::{DEFAULT_RATE_LIMIT, TRACKED_ADDRESSES};
pub use authenticated::{AuthKind, Authenticated};
pub use builder::{
    DEFAULT_CACHE_TTL, DEFAULT_FETCH_TIMEOUT, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CACHE_TTL,
    DEFAULT_MAX_JWKS_BYTES, DEFAULT_MAX_STALE, DEFAULT_MIN_CACHE_TTL, DEFAULT_REFETCH_COOLDOWN,
    ValidatorBuilder,
};
pub use credentials::X_AUTH_TOKEN_HEADER;
pub use error::{Error, Rejection};
pub use extract::AuthenticatedRequest;
pub use layer::{AuthLayer, AuthService};
#[cfg(feature = "redis")]
pub use redis_guard::{DEFAULT_REDIS_PREFIX, RedisReplayGuard};
pub use replay::{
    BoxFuture, DEFAULT_REPLAY_CAPACITY, FULL_RATE_CLIENTS, Insertion, MemoryReplayGuard,
    ReplayGuard, ReplayKind, ReplayRecord, records_per_client,
};
pub use validator::Validator;
pub use x_auth_mode::XAuthTokenMode;

/// Re-exported so a resource server needs no direct sigil-core dependency
/// for the common settings.
pub use sigil_core::auth_token::BodyEncoding;
pub use sigil_core::jwt::{Audience, VerifiedClaims};
pub use sigil_core::{JwkSet, PublicKey, ReplayKey, Window};
/// Re-exported for the rate-limit and client-address settings.
pub use sigil_edge::{BucketConfig, ClientKey, Decision, IpNet};
