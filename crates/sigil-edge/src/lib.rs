#![doc = include_str!("../README.md")]

mod client_addr;
mod listener;
mod rate_limit;
mod refusal;

pub use client_addr::{ClientKey, IpNet, client_addr};
pub use listener::{ConnectionLimits, bind, raise_file_limit, serve};
pub use rate_limit::{BucketConfig, Decision, KeyedLimiter};
pub use refusal::{refusal, refusal_bytes};
