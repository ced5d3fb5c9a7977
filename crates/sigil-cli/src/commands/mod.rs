//! One module per subcommand; each exposes `run`.

pub(crate) mod accounts;
pub(crate) mod auth_token;
pub(crate) mod client;
pub(crate) mod clients;
pub(crate) mod inspect;
pub(crate) mod keygen;
pub(crate) mod keys;
pub(crate) mod payload;
pub(crate) mod serve;
pub(crate) mod sign;
pub(crate) mod verify;
