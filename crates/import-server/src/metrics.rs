//! The server's metrics, in the Prometheus text format at `GET /metrics`.
//!
//! Counters and histograms are kept in process as work happens; the row
//! gauges are read from the store when the metrics are scraped, at most once
//! every 5 s however often they are (the job counters and two index range
//! counts). Every label comes from a fixed set: route templates (or
//! `unmatched`), known methods (or `other`), status codes and failure codes.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::store::RowGauges;

/// Labels of one HTTP route and answer.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    /// The route template (`/api/import-jobs/{import_job_id}`), or
    /// `unmatched` for a path no route serves.
    pub(crate) route: String,
    /// The method, one of a fixed set
    /// ([`method_label`](import_core::routes::method_label)).
    pub(crate) method: String,
    /// The answer's status code.
    pub(crate) status: u16,
}

/// The route of a request, for its latency.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RouteLabel {
    /// The route template, or `unmatched`.
    pub(crate) route: String,
}

/// A failure code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct CodeLabel {
    /// The core's `FailureCode`.
    pub(crate) code: String,
}

/// A row status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct StatusLabel {
    /// The core's `VideoStatus`.
    pub(crate) status: String,
}

fn latency_histogram() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// Every metric of the server, registered once.
pub(crate) struct Metrics {
    registry: Registry,
    /// Rows claimed by workers.
    pub(crate) claims: Counter,
    /// Bytes written to the media store by copies (as they stream).
    pub(crate) copied_bytes: Counter,
    /// Seconds from a row's claim to its stored, probed video.
    pub(crate) copy_seconds: Histogram,
    /// Failed attempts by failure code (retried or final).
    pub(crate) source_failures: Family<CodeLabel, Counter>,
    /// HTTP requests by route, method and status.
    pub(crate) requests: Family<RequestLabels, Counter>,
    /// HTTP request latency by route.
    pub(crate) request_seconds: Family<RouteLabel, Histogram, fn() -> Histogram>,
    /// Listed rows by status (set at each scrape).
    rows: Family<StatusLabel, Gauge>,
    /// Rows a worker could claim now (set at each scrape).
    claimable: Gauge,
    /// Connections refused because `--max-connections` were open.
    pub(crate) refused_connections: Counter,
    /// 1 when the last read of the row gauges succeeded, 0 when the database
    /// did not answer (the row gauges then keep their last values).
    store_up: Gauge,
}

impl Metrics {
    /// The metrics, registered under their names.
    pub(crate) fn new() -> Metrics {
        let mut registry = Registry::default();
        let claims = Counter::default();
        registry.register("vimport_claims", "Rows claimed by workers", claims.clone());
        let copied_bytes = Counter::default();
        registry.register(
            "vimport_copied_bytes",
            "Bytes copied from sources into the media store",
            copied_bytes.clone(),
        );
        let copy_seconds = Histogram::new(exponential_buckets(0.01, 2.0, 16));
        registry.register(
            "vimport_copy_duration_seconds",
            "Seconds to copy, check and probe one video",
            copy_seconds.clone(),
        );
        let source_failures = Family::<CodeLabel, Counter>::default();
        registry.register(
            "vimport_source_failures",
            "Failed import attempts by failure code",
            source_failures.clone(),
        );
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "vimport_http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        let request_seconds: Family<RouteLabel, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "vimport_http_request_duration_seconds",
            "HTTP request latency by route",
            request_seconds.clone(),
        );
        let rows = Family::<StatusLabel, Gauge>::default();
        registry.register(
            "vimport_rows",
            "Rows of listed videos by status",
            rows.clone(),
        );
        let claimable = Gauge::default();
        registry.register(
            "vimport_claimable_rows",
            "Rows a worker could claim now (counted up to 1,000,000)",
            claimable.clone(),
        );
        let refused_connections = Counter::default();
        registry.register(
            "vimport_refused_connections",
            "Connections refused because --max-connections were open",
            refused_connections.clone(),
        );
        let store_up = Gauge::default();
        registry.register(
            "vimport_store_up",
            "1 when the database answered the last read of the row gauges, 0 when it did not",
            store_up.clone(),
        );
        Metrics {
            store_up,
            refused_connections,
            registry,
            claims,
            copied_bytes,
            copy_seconds,
            source_failures,
            requests,
            request_seconds,
            rows,
            claimable,
        }
    }

    /// The text of a scrape, with the row gauges last read from the store
    /// (`None`: the database did not answer; the gauges keep their values).
    pub(crate) fn render(&self, gauges: Option<&RowGauges>) -> String {
        self.store_up.set(i64::from(gauges.is_some()));
        if let Some(gauges) = gauges {
            for (status, count) in &gauges.by_status {
                self.rows
                    .get_or_create(&StatusLabel {
                        status: status.as_str().to_owned(),
                    })
                    .set(*count);
            }
            self.claimable.set(gauges.claimable);
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
