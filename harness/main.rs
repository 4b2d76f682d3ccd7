#![forbid(unsafe_code)]
//! The `kmsspec` binary: parses the command line and hands off to the library.

use clap::Parser;
use kmsspec::cli::{Cli, Command, EXIT_USAGE};

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::List(args) => match kmsspec::suite::names::load_default(&args.specs) {
            Ok(cases) => {
                print!("{}", kmsspec::suite::list::render_list(&cases));
                kmsspec::cli::EXIT_OK
            }
            Err(e) => {
                eprintln!("kmsspec: {e}");
                EXIT_USAGE
            }
        },
        Command::Run(args) => kmsspec::suite::command::run(&args),
        Command::Decode(args) => kmsspec::cli::decode::run(&args),
        Command::Fuzz(args) => kmsspec::livefuzz::run::command(&args),
        Command::Replay(args) => kmsspec::suite::replay::command(&args),
    };
    std::process::exit(code);
}
