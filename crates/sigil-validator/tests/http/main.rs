//! The validator over real HTTP: a tiny issuer and resource servers on
//! 127.0.0.1:0, driven with reqwest. Every item T1–T15 of
//! `docs/security.md` section 3, every case of `es256_jwt.json`,
//! `signed_requests.json` and `bitcoin_auth_tokens.json`, through the tower
//! layer + `Authenticated` extractor and through the `AuthenticatedRequest`
//! extractor; floods of fresh statements from one address; X-Auth-Tokens
//! bound to one origin. One test binary (one link).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod claims;
mod error_table;
mod fetching;
mod floods;
mod keys;
mod origins;
#[cfg(feature = "redis")]
mod redis;
mod signed;
mod support;
mod tokens;
mod wiring;
mod x_auth;
