//! The `tokend` binary: parse the command line and hand over to the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    tokend::cli::run(tokend::cli::Cli::parse())
}
