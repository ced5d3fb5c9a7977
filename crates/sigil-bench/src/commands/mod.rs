//! One module per subcommand.

pub(crate) mod ceiling;
pub(crate) mod connections;
pub(crate) mod oauth;
pub(crate) mod token;
pub(crate) mod validate;
