#![doc = include_str!("../README.md")]

mod ceiling;
mod cli;
mod commands;
mod issuer;
mod load;
mod measure;
mod pin;
mod procfs;
mod report;
mod requests;
mod server;
mod stats;
mod validation;

use std::process::ExitCode;

use clap::Parser as _;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    // clap prints usage errors itself and exits with 2.
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Ceiling(args) => commands::ceiling::run(args),
        Command::Token(args) => commands::token::run(args),
        Command::Validate(args) => commands::validate::run(args),
        Command::Connections(args) => commands::connections::run(args),
        Command::Oauth(args) => commands::oauth::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
