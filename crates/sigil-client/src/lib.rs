#![doc = include_str!("../README.md")]

mod cache;
mod client;
mod error;
mod request;
mod signature;
mod token;

pub use client::Client;
pub use error::{Error, Result};
pub use request::RequestBuilder;
pub use token::AccessToken;

/// The reqwest crate this client is built on: pass a `reqwest::Client` of
/// this version to [`Client::with_http`].
pub use reqwest;
pub use reqwest::Method;
/// docs/protocol.md §8's error codes and the token service's paths, from sigil-core.
pub use sigil_core::api::{ErrorCode, paths};
/// The signing key and the signature schemes, from sigil-core.
pub use sigil_core::{PrivateKey, Scheme};
