#![forbid(unsafe_code)]
//! The `kmsspec` binary: parses the command line and hands off to the library.

use clap::Parser;
use kmsspec::cli::{dispatch, Cli};

fn main() {
    std::process::exit(dispatch(Cli::parse()));
}
