//! `vimport serve` and `vimport keys create`.

use import_server::{Server, ServerConfig};

use crate::cli::{KeysCreateArgs, ServeArgs, StoreArgs};
use crate::output::Exit;

fn server_config(store: StoreArgs) -> ServerConfig {
    let mut config = ServerConfig::new(store.data_dir);
    config.database_url = store.database_url;
    config.secret_key = std::env::var("VIMPORT_SECRET_KEY")
        .ok()
        .filter(|k| !k.trim().is_empty());
    config
}

/// Run the server until SIGINT or SIGTERM.
pub(crate) async fn serve(args: ServeArgs) -> Exit {
    let mut config = server_config(args.store);
    config.listen = args.listen;
    config.media_url = args.media_url;
    config.workers = args.workers;
    config.allow_endpoints = args.allow_endpoints;
    config.hf_endpoint = args.hf_endpoint;
    config.lease = std::time::Duration::from_secs(args.lease_secs.max(1));
    let server = match Server::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Error;
        }
    };
    println!("vimport server listening on {}", server.base_url());
    shutdown_signal().await;
    tracing::info!("stopping: finishing the rows being copied");
    server.shutdown().await;
    Exit::Ok
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

/// Create an API key and print it as the last line.
pub(crate) async fn keys_create(args: KeysCreateArgs) -> Exit {
    let config = server_config(args.store);
    match import_server::create_api_key(&config, &args.user, &args.org, args.name.as_deref()).await
    {
        Ok(key) => {
            println!(
                "Created an API key for user `{}` of org `{}`.",
                args.user.trim(),
                args.org.trim()
            );
            println!("Store it now: it is kept only as a hash and cannot be shown again.");
            println!("{key}");
            Exit::Ok
        }
        Err(e) => {
            eprintln!("error: creating the API key: {e}");
            Exit::Error
        }
    }
}
