//! One module per subcommand.

pub(crate) mod ceiling;
pub(crate) mod token;
