//! One module per resource.

pub(crate) mod discovery;
pub(crate) mod health;
pub(crate) mod openapi;
pub(crate) mod payload;
pub(crate) mod token;
pub(crate) mod userinfo;
