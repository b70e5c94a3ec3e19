use std::process::ExitCode;

use clap::Parser;

/// mimalloc: rows are made on the database driver's thread and freed on the one that reads
/// them, which glibc's allocator serialises on a lock; exports and imports of millions of rows
/// spent a third of their time there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = server::cli::Cli::parse();
    server::telemetry::init(&cli.log_format);
    match server::cli::run(cli).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
