//! The `tokend` binary: parse the command line and hand over to the library.

use clap::Parser;

/// jemalloc instead of glibc's malloc: with 100,000 tokens cached and the usage batch of a
/// busy second built and dropped every second, glibc kept about 60 MiB of freed memory in its
/// per-thread arenas (RSS about 189 MiB with 1,000,000 tokens); jemalloc returns it (143-150
/// MiB in `bench/run.sh`'s memory row), with no change on the hot path beyond the noise.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    tokend::cli::run(tokend::cli::Cli::parse())
}
