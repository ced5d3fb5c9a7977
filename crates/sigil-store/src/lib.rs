#![doc = include_str!("../README.md")]

mod account;
mod backend;
mod column;
mod error;
mod oauth;
mod payload;
mod postgres;
mod rate_limit;
mod redis;
mod replay;
mod signing_key;
mod sqlite;
mod store;
mod url;

pub use self::redis::{DEFAULT_REDIS_PREFIX, RedisOptions, RedisRateLimits, RedisReplayStore};
pub use account::{Account, AccountStore, AccountUpdate};
pub use backend::{Backend, BoxFuture};
pub use error::{Error, Result};
pub use oauth::{
    ClientRecord, CodeConsumption, CodeRecord, ConsentRecord, GrantRecord, NoOAuthStore,
    OAuthStore, SessionRecord,
};
pub use payload::{PAYLOAD_RECORD_TTL_MS, PayloadRefusal, record_payload, verify_payload_once};
pub use postgres::{PostgresOptions, PostgresStore};
pub use rate_limit::{BucketRate, BucketState, RateLimitStore};
pub use replay::{Durability, Insertion, ReplayNamespace, ReplayRecord, ReplayStore};
pub use signing_key::{KeyBytesUpdate, KeyState, NewSigningKey, SigningKeyRecord, SigningKeyStore};
pub use sqlite::{SqliteOptions, SqliteStore};
pub use store::Store;
pub use url::{DEFAULT_STORE_URL, validate_redis_url};
