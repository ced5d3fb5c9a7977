//! One module per resource, and what the signature-checking routes share.

pub(crate) mod admission;

pub(crate) mod discovery;
pub(crate) mod health;
pub(crate) mod oauth;
pub(crate) mod openapi;
pub(crate) mod payload;
pub(crate) mod token;
pub(crate) mod userinfo;
pub(crate) mod wallet;
