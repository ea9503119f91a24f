//! `vimport`: the command-line tool of the cloud video import toolkit.
//!
//! Today it runs the reference server (`vimport serve`) and manages its API keys
//! (`vimport keys create`). Run `vimport --help` for every option.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use import_server::{Server, ServerConfig};

/// Import camera footage from cloud buckets; run the reference import server.
#[derive(Debug, Parser)]
#[command(name = "vimport", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the reference server: the import API and its background workers.
    Serve(ServeArgs),
    /// Manage the server's API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Args)]
struct StoreArgs {
    /// Folder for the database, the media and the secret key file.
    #[arg(long, env = "VIMPORT_DATA_DIR", default_value = "vimport-data")]
    data_dir: PathBuf,
    /// Database URL (default: sqlite://DATA_DIR/vimport.db).
    #[arg(long, env = "VIMPORT_DATABASE_URL")]
    database_url: Option<String>,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "VIMPORT_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    store: StoreArgs,
    /// Where imported videos are stored: a folder, file:///path, or a bucket URL
    /// (default: DATA_DIR/media).
    #[arg(long, env = "VIMPORT_MEDIA_URL")]
    media_url: Option<String>,
    /// Import workers in this process.
    #[arg(long, env = "VIMPORT_WORKERS", default_value_t = 4)]
    workers: usize,
    /// HOST:PORT that integrations may use although it is local or plain HTTP
    /// (for example a MinIO on 127.0.0.1:9000). Repeat for several.
    #[arg(
        long = "allow-endpoint",
        env = "VIMPORT_ALLOW_ENDPOINT",
        value_delimiter = ','
    )]
    allow_endpoints: Vec<String>,
    /// The Hugging Face Hub endpoint that hf:// buckets are read from.
    #[arg(
        long,
        env = "VIMPORT_HF_ENDPOINT",
        default_value = "https://huggingface.co"
    )]
    hf_endpoint: String,
    /// Seconds a claimed row stays leased without a heartbeat.
    #[arg(long, env = "VIMPORT_LEASE_SECS", default_value_t = 60)]
    lease_secs: u64,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create an API key; the key is the last line of the output.
    Create(KeysCreateArgs),
}

#[derive(Debug, Args)]
struct KeysCreateArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The user the key belongs to.
    #[arg(long)]
    user: String,
    /// The user's organisation.
    #[arg(long)]
    org: String,
    /// The user's display name.
    #[arg(long)]
    name: Option<String>,
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VIMPORT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn server_config(store: StoreArgs) -> ServerConfig {
    let mut config = ServerConfig::new(store.data_dir);
    config.database_url = store.database_url;
    config.secret_key = std::env::var("VIMPORT_SECRET_KEY")
        .ok()
        .filter(|k| !k.trim().is_empty());
    config
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = server_config(args.store);
    config.listen = args.listen;
    config.media_url = args.media_url;
    config.workers = args.workers;
    config.allow_endpoints = args.allow_endpoints;
    config.hf_endpoint = args.hf_endpoint;
    config.lease = std::time::Duration::from_secs(args.lease_secs.max(1));
    let server = Server::start(config).await?;
    println!("vimport server listening on {}", server.base_url());
    shutdown_signal().await;
    tracing::info!("stopping: finishing the rows being copied");
    server.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

async fn keys_create(args: KeysCreateArgs) -> anyhow::Result<()> {
    let config = server_config(args.store);
    let key = import_server::create_api_key(&config, &args.user, &args.org, args.name.as_deref())
        .await
        .context("creating the API key")?;
    println!(
        "Created an API key for user `{}` of org `{}`.",
        args.user.trim(),
        args.org.trim()
    );
    println!("Store it now: it is kept only as a hash and cannot be shown again.");
    println!("{key}");
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve(args).await,
            Command::Keys(KeysCommand::Create(args)) => keys_create(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
