//! `vimport`, the command-line tool of the cloud video import toolkit, as a
//! library: [`cli::Cli`] is the command line and [`run`] carries it out. The
//! binary is a thin `main` around them; `cargo xtask codegen` writes the CLI
//! reference (`docs/cli.md`) from [`command`].
//!
//! ```
//! let help = vimport::command().render_long_help().to_string();
//! assert!(help.contains("upload"));
//! ```

/// `println!` for standard output that ends the process quietly when the
/// reader has gone (`vimport jobs --all | head -5`), as `ls | head` does,
/// instead of panicking; [`output::say`] does the writing.
macro_rules! say {
    () => {
        $crate::output::say(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::say(format_args!("{}\n", format_args!($($arg)*)))
    };
}

mod buckets;
pub mod cli;
mod commands;
mod config;
#[cfg(feature = "demo")]
mod demo;
mod output;
mod server_cmds;

use std::process::ExitCode;

use clap::CommandFactory;

pub use output::Exit;

/// The `clap` command, for generated documentation.
pub fn command() -> clap::Command {
    cli::Cli::command()
}

/// Carry out a parsed command line; answers the process's exit code.
pub async fn run(cli: cli::Cli) -> ExitCode {
    let exit = match cli.command {
        cli::Command::Serve(args) => server_cmds::serve(args).await,
        cli::Command::Keys(cli::KeysCommand::Create(args)) => server_cmds::keys_create(args).await,
        cli::Command::Keys(cli::KeysCommand::List(args)) => server_cmds::keys_list(args).await,
        cli::Command::Keys(cli::KeysCommand::Revoke(args)) => server_cmds::keys_revoke(args).await,
        #[cfg(feature = "demo")]
        cli::Command::Demo(args) => demo::run(args).await,
        #[cfg(not(feature = "demo"))]
        cli::Command::Demo(_) => {
            eprintln!(
                "error: this vimport was built without the `demo` feature; build it with the default features (`cargo install vimport`) to run the demo"
            );
            Exit::Usage
        }
        other => commands::run(other).await,
    };
    exit.code()
}
