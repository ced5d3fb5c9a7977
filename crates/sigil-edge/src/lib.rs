#![doc = include_str!("../README.md")]

mod client_addr;
mod rate_limit;

pub use client_addr::{ClientKey, IpNet, client_addr};
pub use rate_limit::{BucketConfig, Decision, KeyedLimiter};
