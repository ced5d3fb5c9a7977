#![doc = include_str!("../README.md")]

mod account;
mod backend;
mod error;
mod replay;
mod signing_key;
mod sqlite;
mod store;
mod url;

pub use account::{Account, AccountStore};
pub use backend::{Backend, BoxFuture};
pub use error::{Error, Result};
pub use replay::{Insertion, ReplayNamespace, ReplayStore};
pub use signing_key::{KeyState, NewSigningKey, SigningKeyRecord, SigningKeyStore};
pub use sqlite::{SqliteOptions, SqliteStore};
pub use store::Store;
pub use url::DEFAULT_STORE_URL;
