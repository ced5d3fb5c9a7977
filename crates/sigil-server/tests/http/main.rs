//! The token service over real HTTP: each test starts `serve` on
//! 127.0.0.1:0 over a real SQLite file (and the real Redis, `redis.rs`) and talks to
//! it with reqwest.
//! One test binary for all of them (one link, not five).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod connections;
mod discovery;
mod errors;
mod input_limits;
mod limits;
mod oauth;
mod payload;
mod redis;
mod routes;
mod support;
mod token;
mod wallet;
