//! The `vimport` binary: parse the command line and run it. See `vimport --help`
//! and `docs/cli.md`.

use std::process::ExitCode;

use clap::Parser;

use vimport::cli::LogFormat;

/// What the server logs by default: its own lines from INFO, its
/// dependencies' (the storage, HTTP, database and DNS clients) from WARN.
const SERVER_LOG: &str = "info,object_store=warn,hyper=warn,hyper_util=warn,reqwest=warn,h2=warn,\
                          rustls=warn,sqlx=warn,hickory_proto=warn,hickory_resolver=warn,s3s=warn";

fn init_logging(default: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VIMPORT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colour only for a person at a terminal, and never against NO_COLOR.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().with_ansi(false).init(),
        LogFormat::Text => builder.with_ansi(colour).init(),
    }
}

fn main() -> ExitCode {
    let cli = vimport::cli::Cli::parse();
    // The server logs each request; the other commands only warnings.
    let (default, format) = match &cli.command {
        vimport::cli::Command::Serve(args) => (SERVER_LOG, args.log_format),
        _ => ("warn", LogFormat::Text),
    };
    init_logging(default, format);
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
