#![forbid(unsafe_code)]
//! The `kmsspec` binary: parses the command line and hands off to the library.

use clap::Parser;
use kmsspec::cli::{Cli, Command, EXIT_USAGE};

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Decode(args) => kmsspec::cli::decode::run(&args),
        Command::Run(_) | Command::List(_) | Command::Replay(_) | Command::Fuzz(_) => {
            eprintln!("kmsspec: this command is being built");
            EXIT_USAGE
        }
    };
    std::process::exit(code);
}
