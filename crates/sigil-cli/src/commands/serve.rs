//! `sigil serve`: a placeholder until the server crate exists.

use clap::CommandFactory as _;

use crate::cli::Cli;

/// Says that the token service is not here yet, shows the help, succeeds.
///
/// # Errors
/// None today; the signature is the one the real server will need.
pub(crate) fn run() -> anyhow::Result<()> {
    let help = Cli::command().render_help();
    eprintln!("the token service arrives with the server crate; available commands:\n");
    eprintln!("{help}");
    Ok(())
}
