//! sigil-client against a real sigil server (in-process, 127.0.0.1:0, a
//! SQLite file) and small recording axum apps. One test binary, one link.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod request;
mod support;
mod token;
mod wire;
mod x_auth;
