//! The command line, as `clap` types. `cargo xtask codegen` writes
//! `docs/cli.md` from these.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use import_core::{JobStatus, Scope};

/// Import camera footage from cloud buckets (GCS, S3/R2, Hugging Face) into a
/// video platform, follow the imports, and run the reference import server.
///
/// Exit codes: 0 success (for `upload --wait` and `wait`: every video
/// uploaded), 1 an error (API, network, server), 2 bad usage or input (nothing
/// was sent), 3 the import finished with failed videos, 4 waiting timed out.
#[derive(Debug, Parser)]
#[command(name = "vimport", version, about, long_about)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Where the API is and who is calling.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// API key (or set VIMPORT_API_KEY, or `api_key` in the config file).
    #[arg(long, env = "VIMPORT_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Base URL of the API (default: the hosted API).
    #[arg(long, env = "VIMPORT_BASE_URL", hide_env_values = true)]
    pub base_url: Option<String>,
    /// Config file: JSON with `api_key` and `base_url` (default:
    /// $XDG_CONFIG_HOME/vimport/config.json or ~/.config/vimport/config.json).
    #[arg(long, env = "VIMPORT_CONFIG", hide_env_values = true)]
    pub config: Option<PathBuf>,
    /// Print machine-readable JSON on standard output instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start an import of objects from one bucket.
    Upload(UploadArgs),
    /// Show an import job.
    Job(JobArgs),
    /// List the per-video statuses of an import job.
    Videos(VideosArgs),
    /// Wait until an import job is ready; print the uploaded ids and the failures.
    Wait(WaitArgs),
    /// Retry the failed videos of an import job (all of them, or the ids given).
    Retry(RetryArgs),
    /// List your import jobs, newest first.
    Jobs(JobsArgs),
    /// Cancel an import job: its videos not yet uploaded fail as `cancelled`.
    Cancel(CancelArgs),
    /// Why an import job's videos failed: the failure summary, or with
    /// --failed the failed videos' source URIs (one per line, ready for
    /// `vimport upload --from-file`).
    Report(ReportArgs),
    /// Manage saved cloud integrations (bucket credentials).
    #[command(subcommand)]
    Integrations(IntegrationsCommand),
    /// Find a folder by name (its id is what `jobs --folder-id` takes), or
    /// create one (`upload --folder NAME` also creates it if missing).
    #[command(subcommand)]
    Folders(FoldersCommand),
    /// Check the API key.
    Verify(VerifyArgs),
    /// Ask a reference server whether it is alive and ready (`/healthz`,
    /// `/readyz`); exit code 1 when it is not.
    Health(HealthArgs),
    /// Run the reference server: the import API and its background workers.
    Serve(ServeArgs),
    /// Manage the reference server's API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Show the whole system working on this machine: a server, a local
    /// S3-compatible bucket with sample videos, an import with a progress bar.
    Demo(DemoArgs),
}

/// `--scope`: the core's scopes, by their wire names.
fn scope_parser() -> impl TypedValueParser<Value = Scope> {
    PossibleValuesParser::new([
        PossibleValue::new(Scope::User.as_str()).help("Yours"),
        PossibleValue::new(Scope::Org.as_str()).help("Shared with your organisation"),
    ])
    .try_map(|s: String| s.parse::<Scope>())
}

/// `--status`: the core's job statuses, by their wire names
/// (`completed_with_errors`); `-` for `_` is taken too, as earlier versions
/// spelled them.
fn job_status_parser() -> impl TypedValueParser<Value = JobStatus> {
    PossibleValuesParser::new(JobStatus::KNOWN.iter().map(|status| {
        let name = status.as_str();
        let value = PossibleValue::new(name);
        if name.contains('_') {
            // One short string per parser built (a few per run).
            value.alias(&*Box::leak(name.replace('_', "-").into_boxed_str()))
        } else {
            value
        }
    }))
    .map(|s: String| JobStatus::from_wire(&s.replace('-', "_")))
}

/// `vimport upload`.
#[derive(Debug, Clone, Args)]
#[command(
    after_long_help = "BUCKET CREDENTIALS: --expand and --preflight read the bucket from this machine, with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and AWS_REGION (S3; AWS_ENDPOINT_URL or --endpoint-url for R2/MinIO), GOOGLE_APPLICATION_CREDENTIALS (GCS: a service-account key file), or HF_TOKEN and HF_ENDPOINT (Hugging Face). The import itself reads with the saved integration on the server."
)]
pub struct UploadArgs {
    /// Object URIs: gs://bucket/object.mp4, s3://bucket/key.mp4 or
    /// hf://buckets/namespace/name/path.mp4 (all in one bucket).
    pub uris: Vec<String>,
    /// A multi-view set, one `--view ROLE=URI` per camera; `front` is required.
    #[arg(long = "view", value_name = "ROLE=URI")]
    pub views: Vec<String>,
    /// Saved integration to read the bucket with.
    #[arg(long)]
    pub integration: Option<String>,
    /// Folder name to import into (created if missing).
    #[arg(long)]
    pub folder: Option<String>,
    /// Who the import belongs to.
    #[arg(long, value_parser = scope_parser(), default_value = Scope::User.as_str())]
    pub scope: Scope,
    /// List the objects under this prefix (s3://bucket/prefix/, gs://...,
    /// hf://buckets/ns/name/prefix/) and import every `.mp4` that matches
    /// --glob; more than 100,000 become several import jobs. Reads the bucket
    /// with your own credentials (see BUCKET CREDENTIALS in `vimport upload --help`).
    #[arg(long, value_name = "PREFIX")]
    pub expand: Option<String>,
    /// With --expand: which names to keep, relative to the prefix (`*`, `**`,
    /// `?`, `[abc]`); default every `.mp4`.
    #[arg(long, requires = "expand")]
    pub glob: Option<String>,
    /// Check every object before the job starts: it exists, is not empty,
    /// starts with an MP4 `ftyp` box. Problems stop the upload (exit code 2)
    /// unless --skip-bad is given.
    #[arg(long)]
    pub preflight: bool,
    /// With --preflight: import the good objects and leave out the bad ones.
    #[arg(long, requires = "preflight")]
    pub skip_bad: bool,
    /// With --preflight: objects checked at once.
    #[arg(long, default_value_t = import_providers::DEFAULT_PREFLIGHT_CONCURRENCY)]
    pub concurrency: usize,
    /// S3-compatible endpoint for --expand/--preflight (or AWS_ENDPOINT_URL).
    #[arg(long, env = "AWS_ENDPOINT_URL", hide_env_values = true)]
    pub endpoint_url: Option<String>,
    /// HOST:PORT that --expand/--preflight may reach although it is local or
    /// plain HTTP (a MinIO on 127.0.0.1:9000, say).
    #[arg(long = "allow-endpoint")]
    pub allow_endpoints: Vec<String>,
    /// Read object URIs from FILE, one per line (`-`: standard input); blank
    /// lines and lines starting with `#` are skipped. At most 1,000,000 URIs;
    /// more than 100,000 become several import jobs.
    #[arg(long, value_name = "FILE")]
    pub from_file: Option<PathBuf>,
    /// Wait until the import is ready and print the outcome.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this many seconds (exit code 4).
    #[arg(long, default_value_t = import_core::client::DEFAULT_WAIT_TIMEOUT.as_secs())]
    pub timeout: u64,
    /// API connection options.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `vimport job`.
#[derive(Debug, Args)]
pub struct JobArgs {
    /// The import job id.
    pub id: String,
    /// API connection options.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `vimport videos`.
#[derive(Debug, Args)]
pub struct VideosArgs {
    /// The import job id.
    pub id: String,
    /// Rows per page (1 to 1000).
    #[arg(long, default_value_t = import_core::DEFAULT_PAGE_LIMIT)]
    pub limit: u32,
    /// Start after this video id.
    #[arg(long)]
    pub cursor: Option<String>,
    /// Follow the cursor through every page.
    #[arg(long)]
    pub all: bool,
    /// API connection options.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `vimport wait`.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// The import job id.
    pub id: String,
    /// Give up after this many seconds (exit code 4).
    #[arg(long, default_value_t = import_core::client::DEFAULT_WAIT_TIMEOUT.as_secs())]
    pub timeout: u64,
    /// Seconds between polls when the server suggests none.
    #[arg(long, default_value_t = import_core::DEFAULT_POLL_INTERVAL.as_secs())]
    pub poll: u64,
    /// API connection options.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `vimport retry`.
#[derive(Debug, Args)]
pub struct RetryArgs {
    /// The import job id.
    pub id: String,
    /// Video ids to retry (default: every failed video).
    pub video_ids: Vec<String>,
    /// API connection options.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `vimport jobs`.
#[derive(Debug, Args)]
pub struct JobsArgs {
    /// Jobs per page (1 to 500).
    #[arg(long, default_value_t = import_core::DEFAULT_JOB_PAGE_LIMIT)]
    pub limit: u32,
    /// Only jobs in this status.
    #[arg(long, value_parser = job_status_parser())]
    pub status: Option<JobStatus>,
    /// Only jobs into this folder (its id, `fo_...`; `vimport folders get
    /// NAME` finds it).
    #[arg(long)]
    pub folder_id: Option<String>,
    /// Only jobs created after this RFC 3339 UTC time (2026-11-28T17:34:06Z).
    #[arg(long)]
    pub created_after: Option<String>,
    /// Start after this job id (the `next_cursor` of the previous page).
    #[arg(long)]
    pub cursor: Option<String>,
    /// Follow the cursor through every page.
    #[arg(long)]
    pub all: bool,
    /// API connection options.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `vimport cancel`.
#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The import job id.
    pub id: String,
    /// API connection options.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `vimport report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The import job id.
    pub id: String,
    /// Print the failed videos' source URIs, one per line (with --json: the
    /// failed rows with their codes and reasons).
    #[arg(long)]
    pub failed: bool,
    /// API connection options.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `vimport health`.
#[derive(Debug, Args)]
pub struct HealthArgs {
    /// API connection options (the probes need no API key).
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `vimport verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// API connection options.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `vimport folders`.
#[derive(Debug, Subcommand)]
pub enum FoldersCommand {
    /// A folder by name and scope: its id, name, scope and creation time.
    Get(FolderArgs),
    /// Create a folder; an error if its name is taken in that scope.
    Create(FolderArgs),
}

/// A folder by name, for `vimport folders`.
#[derive(Debug, Args)]
pub struct FolderArgs {
    /// The folder's name.
    pub name: String,
    /// Its scope.
    #[arg(long, value_parser = scope_parser(), default_value = Scope::User.as_str())]
    pub scope: Scope,
    /// A description (for `create`).
    #[arg(long)]
    pub description: Option<String>,
    /// API connection options.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `vimport integrations`.
#[derive(Debug, Subcommand)]
pub enum IntegrationsCommand {
    /// List the integrations you can use.
    List(ListArgs),
    /// Save an integration.
    #[command(subcommand)]
    Add(AddCommand),
    /// Delete an integration you own.
    Remove(RemoveArgs),
}

/// `vimport integrations list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this provider.
    #[arg(long = "type", value_enum)]
    pub kind: Option<ProviderArg>,
    /// API connection options.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// How the server writes its log lines (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line.
    Json,
}

/// A provider.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ProviderArg {
    /// Google Cloud Storage.
    Gcs,
    /// S3 and S3-compatible stores.
    S3,
    /// Hugging Face buckets.
    Hf,
}

/// `vimport integrations remove`.
#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The integration id.
    pub id: String,
    /// API connection options.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `vimport integrations add`.
#[derive(Debug, Subcommand)]
pub enum AddCommand {
    /// A GCS bucket, with a service-account key file.
    Gcs(AddGcsArgs),
    /// An S3 bucket, or an R2/MinIO bucket with --endpoint-url.
    S3(AddS3Args),
    /// A Hugging Face bucket (namespace/name), with a token.
    Hf(AddHfArgs),
}

/// Fields every integration has.
#[derive(Debug, Args)]
pub struct AddCommon {
    /// A name for the integration.
    #[arg(long)]
    pub name: String,
    /// The bucket (namespace/name for Hugging Face).
    #[arg(long)]
    pub bucket: String,
    /// Only objects under this prefix may be read.
    #[arg(long)]
    pub prefix: Option<String>,
    /// API connection options.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `vimport integrations add gcs`.
#[derive(Debug, Args)]
pub struct AddGcsArgs {
    /// Fields every integration has.
    #[command(flatten)]
    pub common: AddCommon,
    /// The service-account JSON key file.
    #[arg(long)]
    pub key_file: PathBuf,
}

/// `vimport integrations add s3`.
#[derive(Debug, Args)]
pub struct AddS3Args {
    /// Fields every integration has.
    #[command(flatten)]
    pub common: AddCommon,
    /// Access key id.
    #[arg(long, env = "VIMPORT_S3_ACCESS_KEY_ID", hide_env_values = true)]
    pub access_key_id: String,
    /// Secret access key.
    #[arg(long, env = "VIMPORT_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub secret_access_key: String,
    /// Session token of temporary credentials.
    #[arg(long, env = "VIMPORT_S3_SESSION_TOKEN", hide_env_values = true)]
    pub session_token: Option<String>,
    /// Region (required for Amazon S3; `auto` with an endpoint).
    #[arg(long)]
    pub region: Option<String>,
    /// Endpoint of an S3-compatible store (R2, MinIO, ...).
    #[arg(long)]
    pub endpoint_url: Option<String>,
}

/// `vimport integrations add hf`.
#[derive(Debug, Args)]
pub struct AddHfArgs {
    /// Fields every integration has.
    #[command(flatten)]
    pub common: AddCommon,
    /// Hugging Face token.
    #[arg(long, env = "VIMPORT_HF_TOKEN", hide_env_values = true)]
    pub token: String,
}

/// Where the server keeps its data.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Folder for the database, the media and the secret key file.
    #[arg(
        long,
        env = "VIMPORT_DATA_DIR",
        default_value = "vimport-data",
        hide_env_values = true
    )]
    pub data_dir: PathBuf,
    /// Database URL (default: sqlite://DATA_DIR/vimport.db). A password in
    /// it shows in the process list: prefer --database-url-file or the
    /// environment.
    #[arg(long, env = "VIMPORT_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// A file holding the database URL (its first line), so that its password
    /// is never on the command line; at most 64 KiB.
    #[arg(
        long,
        env = "VIMPORT_DATABASE_URL_FILE",
        conflicts_with = "database_url",
        value_name = "FILE",
        hide_env_values = true
    )]
    pub database_url_file: Option<PathBuf>,
}

/// `vimport serve`.
#[derive(Debug, Args)]
#[command(
    after_long_help = "MEDIA STORE IN A BUCKET: --media-url s3://bucket/prefix writes the imported videos to an S3 or S3-compatible bucket (R2, MinIO), gs://bucket/prefix to GCS. A setting no --media-option gives comes from the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION (or AWS_DEFAULT_REGION), AWS_ENDPOINT_URL, AWS_ALLOW_HTTP and the other AWS_* names of the --media-option keys (GOOGLE_SERVICE_ACCOUNT, GOOGLE_SERVICE_ACCOUNT_KEY for GCS). Example: --media-url s3://vids/media --media-option aws_endpoint=http://127.0.0.1:9000 --media-option aws_allow_http=true --media-option aws_region=us-east-1, with the keys in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
)]
pub struct ServeArgs {
    /// How log lines are written on standard error: `text` (coloured only
    /// on a terminal, and never with NO_COLOR set) or `json` (one object a
    /// line: timestamp, level, target, fields).
    #[arg(
        long,
        env = "VIMPORT_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text,
        hide_env_values = true
    )]
    pub log_format: LogFormat,
    /// Address to listen on.
    #[arg(
        long,
        env = "VIMPORT_LISTEN",
        default_value_t = import_core::fields::DEFAULT_LISTEN,
        hide_env_values = true
    )]
    pub listen: SocketAddr,
    /// Where the server keeps its data.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Where imported videos are stored: a folder, file:///path, or a bucket URL
    /// (default: DATA_DIR/media).
    #[arg(long, env = "VIMPORT_MEDIA_URL", hide_env_values = true)]
    pub media_url: Option<String>,
    /// A setting of a bucket media store, KEY=VALUE: aws_endpoint,
    /// aws_access_key_id, aws_secret_access_key, aws_session_token, aws_region,
    /// aws_allow_http, aws_virtual_hosted_style_request (any object_store S3 or
    /// GCS key). Repeat, or separate with commas; wins over the environment.
    #[arg(
        long = "media-option",
        value_name = "KEY=VALUE",
        env = "VIMPORT_MEDIA_OPTIONS",
        value_delimiter = ',',
        value_parser = media_option,
        hide_env_values = true
    )]
    pub media_options: Vec<MediaOption>,
    /// A file of media store settings, one KEY=VALUE per line (blank lines
    /// and `#` comments skipped; at most 64 KiB), so that secrets such as
    /// aws_secret_access_key are never on the command line; --media-option
    /// wins over it.
    #[arg(
        long,
        env = "VIMPORT_MEDIA_OPTION_FILE",
        value_name = "FILE",
        hide_env_values = true
    )]
    pub media_option_file: Option<PathBuf>,
    /// Objects this process copies at once (0 serves the API only). Each
    /// copy is a task, not a thread; `--workers` is the older name.
    #[arg(
        long,
        alias = "workers",
        env = "VIMPORT_MAX_IN_FLIGHT",
        default_value_t = import_core::fields::DEFAULT_MAX_IN_FLIGHT,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=4096),
        hide_env_values = true
    )]
    pub max_in_flight: usize,
    /// Memory the copies in flight may buffer together: bytes, or with KiB,
    /// MiB, GiB (default 256 MiB, at least 1 MiB). A copy reserves up to
    /// 24 MiB of it before it reads its source, and waits while it is taken.
    #[arg(
        long,
        env = "VIMPORT_COPY_MEMORY",
        default_value_t = import_core::fields::DEFAULT_COPY_MEMORY,
        value_parser = parse_copy_memory,
        hide_env_values = true
    )]
    pub copy_memory: u64,
    /// HOST:PORT that integrations may use although it is local or plain HTTP
    /// (for example a MinIO on 127.0.0.1:9000). Repeat for several.
    #[arg(
        long = "allow-endpoint",
        env = "VIMPORT_ALLOW_ENDPOINT",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub allow_endpoints: Vec<String>,
    /// A proxy (http://HOST:PORT) that every request to a source goes
    /// through; without it, HTTPS_PROXY and the other proxy variables are
    /// ignored, since a proxy would carry requests past the endpoint check
    /// made at connect time. A proxy on a private address needs
    /// --allow-endpoint too.
    #[arg(
        long,
        env = "VIMPORT_SOURCE_PROXY",
        value_name = "URL",
        hide_env_values = true
    )]
    pub source_proxy: Option<String>,
    /// A name server (IP:PORT) that resolves the host names of sources,
    /// instead of those of /etc/resolv.conf; repeat it, or separate with
    /// commas. Names are resolved by the server's own async resolver, at
    /// most 64 at once and each within 10 s, so a name server that never
    /// answers holds no thread.
    #[arg(
        long = "source-name-server",
        env = "VIMPORT_SOURCE_NAME_SERVERS",
        value_name = "IP:PORT",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub source_name_servers: Vec<std::net::SocketAddr>,
    /// The Hugging Face Hub endpoint that hf:// buckets are read from.
    #[arg(
        long,
        env = "VIMPORT_HF_ENDPOINT",
        default_value = import_providers::DEFAULT_HF_ENDPOINT,
        hide_env_values = true
    )]
    pub hf_endpoint: String,
    /// Seconds a claimed row stays leased without a heartbeat.
    #[arg(
        long,
        env = "VIMPORT_LEASE_SECS",
        default_value_t = import_core::fields::DEFAULT_LEASE_SECS,
        hide_env_values = true
    )]
    pub lease_secs: u64,
    /// Largest object imported: bytes, or with KiB, MiB, GiB or TiB (default
    /// 50 GiB). A larger object fails with `too_large` before any of it is read.
    #[arg(
        long,
        env = "VIMPORT_MAX_OBJECT_SIZE",
        default_value_t = import_core::fields::DEFAULT_MAX_OBJECT_SIZE,
        value_parser = import_core::fields::parse_byte_size,
        hide_env_values = true
    )]
    pub max_object_size: u64,
    /// Least average rate a source must deliver over every window, per second:
    /// bytes, or with KiB, MiB, GiB (default 64 KiB; 0 turns it off). A slower
    /// attempt stops, and is retried like other source failures.
    #[arg(
        long,
        env = "VIMPORT_MIN_SOURCE_RATE",
        default_value_t = import_core::fields::DEFAULT_MIN_SOURCE_RATE,
        value_parser = import_core::fields::parse_byte_size,
        hide_env_values = true
    )]
    pub min_source_rate: u64,
    /// Seconds over which --min-source-rate is measured.
    #[arg(
        long,
        env = "VIMPORT_SOURCE_RATE_WINDOW",
        default_value_t = import_core::fields::DEFAULT_SOURCE_RATE_WINDOW_SECS,
        value_parser = clap::value_parser!(u64).range(1..=3600),
        hide_env_values = true
    )]
    pub source_rate_window: u64,
    /// Seconds without a heartbeat after which another server process on the
    /// same database is taken for dead and its rows are queued again (on
    /// PostgreSQL a process that dies is usually seen at once, by its lock).
    #[arg(
        long,
        env = "VIMPORT_INSTANCE_TIMEOUT",
        default_value_t = import_core::fields::DEFAULT_INSTANCE_TIMEOUT_SECS,
        value_parser = clap::value_parser!(u64).range(3..=3600),
        hide_env_values = true
    )]
    pub instance_timeout: u64,
    /// Seconds a client has to send a request's whole header block; the
    /// connection is closed beyond.
    #[arg(
        long,
        env = "VIMPORT_HEADER_TIMEOUT",
        default_value_t = import_core::fields::DEFAULT_HEADER_TIMEOUT_SECS,
        value_parser = clap::value_parser!(u64).range(1..=3600),
        hide_env_values = true
    )]
    pub header_timeout: u64,
    /// Seconds a client has to send a request's whole body; `408` beyond.
    #[arg(
        long,
        env = "VIMPORT_BODY_TIMEOUT",
        default_value_t = import_core::fields::DEFAULT_BODY_TIMEOUT_SECS,
        value_parser = clap::value_parser!(u64).range(1..=3600),
        hide_env_values = true
    )]
    pub body_timeout: u64,
    /// Seconds a keep-alive connection may stay silent (no request being
    /// served) before it is closed.
    #[arg(
        long,
        env = "VIMPORT_IDLE_TIMEOUT",
        default_value_t = import_core::fields::DEFAULT_IDLE_TIMEOUT_SECS,
        value_parser = clap::value_parser!(u64).range(1..=3600),
        hide_env_values = true
    )]
    pub idle_timeout: u64,
    /// Connections open at once; one more is answered `503` and closed.
    #[arg(
        long,
        env = "VIMPORT_MAX_CONNECTIONS",
        default_value_t = import_core::fields::DEFAULT_MAX_CONNECTIONS,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000),
        hide_env_values = true
    )]
    pub max_connections: usize,
    /// Connections one peer address may hold open at once; one more is
    /// answered 503 and closed (default: a quarter of --max-connections; 0
    /// turns it off, as behind a load balancer whose one address carries
    /// every client).
    #[arg(
        long,
        env = "VIMPORT_MAX_CONNECTIONS_PER_PEER",
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=1_000_000),
        hide_env_values = true
    )]
    pub max_connections_per_peer: Option<usize>,
    /// Failed authentications (a missing or wrong API key) one peer address
    /// may make per minute, in bursts of as many; past it its requests are
    /// 429 with Retry-After, before any key is looked up; 0 turns it off.
    #[arg(
        long,
        env = "VIMPORT_MAX_FAILED_AUTH_PER_MINUTE",
        default_value_t = import_core::fields::DEFAULT_MAX_FAILED_AUTH_PER_MINUTE,
        hide_env_values = true
    )]
    pub max_failed_auth_per_minute: u32,
    /// Largest request head (request line and headers) read, in bytes
    /// (8 KiB to 1 MiB); `431` beyond.
    #[arg(
        long,
        env = "VIMPORT_MAX_HEAD_BYTES",
        default_value_t = import_core::fields::DEFAULT_MAX_HEAD_BYTES,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(8192..=1_048_576),
        hide_env_values = true
    )]
    pub max_head_bytes: usize,
    /// Largest body of an upload request (bytes, or with KiB, MiB, GiB);
    /// every other route takes at most 64 KiB.
    #[arg(
        long,
        env = "VIMPORT_BODY_LIMIT",
        default_value_t = import_core::routes::DEFAULT_BULK_BODY_LIMIT,
        value_parser = parse_body_limit,
        hide_env_values = true
    )]
    pub body_limit: usize,
    /// Bytes that the request bodies being read at once may hold together
    /// (1 MiB to 1 TiB, at least --body-limit); a body past it waits up to
    /// --body-memory-wait, then is `503` with Retry-After.
    #[arg(
        long,
        env = "VIMPORT_BODY_MEMORY",
        default_value_t = import_core::fields::DEFAULT_BODY_MEMORY,
        value_parser = parse_body_memory,
        hide_env_values = true
    )]
    pub body_memory: u64,
    /// Seconds a request waits for its body's part of --body-memory (0 to
    /// 300; 0 answers `503` at once).
    #[arg(
        long,
        env = "VIMPORT_BODY_MEMORY_WAIT",
        default_value_t = import_core::fields::DEFAULT_BODY_MEMORY_WAIT_SECS,
        value_parser = clap::value_parser!(u64).range(0..=300),
        hide_env_values = true
    )]
    pub body_memory_wait: u64,
    /// Most objects one import request may name; `422` beyond.
    #[arg(
        long,
        env = "VIMPORT_MAX_OBJECTS",
        default_value_t = import_core::DEFAULT_MAX_OBJECTS,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=10_000_000),
        hide_env_values = true
    )]
    pub max_objects: usize,
    /// Requests each API key may make per minute, in bursts of as many;
    /// `429` with `Retry-After` beyond; 0 turns the limit off.
    #[arg(
        long,
        env = "VIMPORT_REQUESTS_PER_MINUTE",
        default_value_t = import_core::fields::DEFAULT_REQUESTS_PER_MINUTE,
        hide_env_values = true
    )]
    pub requests_per_minute: u32,
    /// Rows an organisation may have waiting to import at once; an upload
    /// that would pass it is `429`.
    #[arg(
        long,
        env = "VIMPORT_MAX_PENDING_ROWS_PER_ORG",
        default_value_t = import_core::fields::DEFAULT_MAX_PENDING_ROWS_PER_ORG,
        value_parser = clap::value_parser!(u64).range(1..),
        hide_env_values = true
    )]
    pub max_pending_rows_per_org: u64,
}

/// `--body-limit`: a size of at least 1 KiB and at most 1 GiB.
fn parse_body_limit(text: &str) -> Result<usize, String> {
    let n = import_core::fields::parse_byte_size(text)?;
    if !(1024..=1 << 30).contains(&n) {
        return Err(format!("`{text}`: use 1KiB to 1GiB"));
    }
    usize::try_from(n).map_err(|_| format!("`{text}` is too large"))
}

/// `--body-memory`: a size of at least 1 MiB and at most 1 TiB.
fn parse_body_memory(text: &str) -> Result<u64, String> {
    let n = import_core::fields::parse_byte_size(text)?;
    if !(1 << 20..=1 << 40).contains(&n) {
        return Err(format!("`{text}`: use 1MiB to 1TiB"));
    }
    Ok(n)
}

/// One `--media-option` as given, checked by `vimport serve` (not by the parser,
/// whose error would repeat the text, a secret perhaps). `Debug` shows the key only.
#[derive(Clone)]
pub struct MediaOption(pub String);

impl std::fmt::Debug for MediaOption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.split_once('=') {
            Some((key, _)) => write!(f, "{key}=<redacted>"),
            None => f.write_str("<redacted>"),
        }
    }
}

/// Take a `--media-option` as it is; `vimport serve` checks its shape.
fn media_option(raw: &str) -> Result<MediaOption, std::convert::Infallible> {
    Ok(MediaOption(raw.to_owned()))
}

/// `vimport keys`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create an API key; the key is the last line of the output.
    Create(KeysCreateArgs),
    /// List the API keys (id, user, org, name, times; never a key).
    List(KeysListArgs),
    /// Revoke an API key by its id: every replica refuses it from its next
    /// request.
    Revoke(KeysRevokeArgs),
}

/// `vimport keys list`.
#[derive(Debug, Args)]
pub struct KeysListArgs {
    /// Where the server keeps its data.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Print a JSON array of objects (`id`, `user`, `org`, `name`,
    /// `created_at`, `last_used_at`, `expires_at`, `revoked_at`).
    #[arg(long)]
    pub json: bool,
    /// Include revoked and expired keys.
    #[arg(long)]
    pub all: bool,
}

/// `vimport keys revoke`.
#[derive(Debug, Args)]
pub struct KeysRevokeArgs {
    /// Where the server keeps its data.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The key's id, as `vimport keys list` shows it (`ak_...`).
    pub id: String,
}

/// `vimport keys create`.
#[derive(Debug, Args)]
pub struct KeysCreateArgs {
    /// Where the server keeps its data.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The user the key belongs to.
    #[arg(long)]
    pub user: String,
    /// The user's organisation.
    #[arg(long)]
    pub org: String,
    /// The user's display name.
    #[arg(long)]
    pub name: Option<String>,
    /// Refuse the key after this long (`90d`, `12h`, `30m`; at most 10
    /// years); without it the key lasts until revoked.
    #[arg(long, value_parser = parse_expiry)]
    pub expires_in: Option<std::time::Duration>,
}

/// `--expires-in`: a duration such as `90d`, from 1 minute to 10 years.
fn parse_expiry(text: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(text.trim()).map_err(|e| {
        format!("`{text}` is not a duration ({e}); write for example 90d, 12h or 30m")
    })?;
    let (least, most) = (
        std::time::Duration::from_secs(60),
        std::time::Duration::from_secs(10 * 366 * 86_400),
    );
    if d < least || d > most {
        return Err(format!("`{text}`: use 1 minute to 10 years"));
    }
    Ok(d)
}

/// `vimport demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of good sample videos in the demo bucket.
    #[arg(long, default_value_t = 6)]
    pub videos: usize,
    /// Print machine-readable JSON on standard output instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `--copy-memory`: a byte size of at least 1 MiB.
fn parse_copy_memory(value: &str) -> Result<u64, String> {
    let bytes = import_core::fields::parse_byte_size(value)?;
    if bytes < 1024 * 1024 {
        return Err(format!(
            "{bytes} bytes is too little for the copies' buffers; give at least 1MiB"
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn jobs_status(args: &[&str]) -> Result<Option<JobStatus>, clap::Error> {
        let cli = Cli::try_parse_from([&["vimport", "jobs"], args].concat())?;
        match cli.command {
            Command::Jobs(jobs) => Ok(jobs.status),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn statuses_and_scopes_are_the_cores_by_their_wire_names() {
        for status in JobStatus::KNOWN {
            assert_eq!(
                jobs_status(&["--status", status.as_str()]).unwrap(),
                Some(status.clone())
            );
        }
        assert_eq!(
            jobs_status(&["--status", "completed-with-errors"]).unwrap(),
            Some(JobStatus::CompletedWithErrors),
            "the spelling of earlier versions is still taken"
        );
        let refused = jobs_status(&["--status", "done"]).unwrap_err().to_string();
        assert!(refused.contains("completed_with_errors"), "{refused}");
        assert_eq!(jobs_status(&[]).unwrap(), None);
        let upload = |args: &[&str]| match Cli::try_parse_from(
            [&["vimport", "upload", "s3://b/a.mp4"], args].concat(),
        )
        .unwrap()
        .command
        {
            Command::Upload(u) => u.scope,
            other => panic!("{other:?}"),
        };
        assert_eq!(upload(&[]), Scope::User);
        assert_eq!(upload(&["--scope", "org"]), Scope::Org);
        assert!(
            Cli::try_parse_from(["vimport", "upload", "s3://b/a.mp4", "--scope", "team"]).is_err()
        );
    }
}
