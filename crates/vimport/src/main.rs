//! The `vimport` binary: parse the command line and run it. See `vimport --help`
//! and `docs/cli.md`.

use std::process::ExitCode;

use clap::Parser;

fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VIMPORT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> ExitCode {
    let cli = vimport::cli::Cli::parse();
    // The server logs each request; the other commands only warnings.
    let default = match cli.command {
        vimport::cli::Command::Serve(_) => "info",
        _ => "warn",
    };
    init_logging(default);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(vimport::run(cli))
}
