//! The binary's commands, one file each: run the library, print the results.

mod align;
mod audio;
mod batch;
mod caption;
mod check;
mod model;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let models_dir = cli
        .models_dir
        .clone()
        .unwrap_or_else(podcap::model::default_models_dir);
    match cli.command {
        Command::Caption(args) => caption::run(args, &models_dir),
        Command::Align(args) => align::run(args),
        Command::Check(args) => check::run(args, &models_dir),
        Command::Batch(args) => batch::run(args, &models_dir),
        Command::Audio(args) => audio::run(args),
        Command::Model { command } => model::run(command, &models_dir),
    }
}
