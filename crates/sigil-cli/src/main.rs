#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod cli;
mod commands;
mod exit;
mod output;
mod random;
mod secret;

use std::process::ExitCode;

use clap::Parser as _;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    // clap prints usage errors itself and exits with 2 (help and version: 0).
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(exit::code_of(&err))
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let json = cli.json;
    match cli.command {
        Command::Serve(args) => commands::serve::run(&args),
        Command::Keys(args) => commands::keys::run(&args, json),
        Command::Accounts(args) => commands::accounts::run(&args, json),
        Command::Clients(args) => commands::clients::run(&args, json),
        Command::Keygen(args) => commands::keygen::run(&args, json),
        Command::Sign(args) => commands::sign::run(&args, json),
        Command::Verify(args) => commands::verify::run(&args, json),
        Command::AuthToken(args) => commands::auth_token::run(&args, json),
        Command::Payload(args) => commands::payload::run(&args, json),
        Command::Token(args) => commands::client::token(&args, json),
        Command::Call(args) => commands::client::call(&args, json),
        Command::Inspect(args) => commands::inspect::run(&args, json),
    }
}
