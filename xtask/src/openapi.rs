//! The OpenAPI 3.1 document of the cloud-import contract, built from the code
//! of `import_core` (with its `openapi` feature, which derives the schemas).
//!
//! Nothing in the document is written twice:
//!
//! - every path template, method and operation id comes from the route table
//!   [`import_core::routes`], and whether a route is an extension of ours;
//!   the request constructor in [`import_core::api`] of each route, called
//!   with placeholder ids, must fill that template;
//! - every success body comes from the answer type `T` of that constructor's
//!   [`ApiRequest<T>`], so the documented answer is the one clients decode;
//! - every schema is the `utoipa::ToSchema` derive of an [`import_core::wire`]
//!   type;
//! - each route's answers are its [`routes::Route::answers`] (its success
//!   first, then the errors of what it does) and its
//!   [`routes::common_answers`] (the `Idempotency-Key` header, `409`, `413`
//!   and the rest follow from the route's method, key and body); the server's
//!   tests drive every route to each of its answers and to nothing else;
//! - each route's summary and description are the doc comment of its constant
//!   in the route table ([`crate::route_docs`]); page limits come from
//!   [`MAX_PAGE_LIMIT`] and [`DEFAULT_PAGE_LIMIT`].
//!
//! `cargo xtask codegen` writes [`document`] to `docs/api/openapi.json`, and a
//! test in [`crate::codegen`] fails when that file is stale. The rest of the
//! prose (parameter descriptions, examples) lives here: only this generator
//! reads it.

use std::collections::BTreeSet;
use std::marker::PhantomData;
use std::str::FromStr;

use http::{Method, StatusCode};
use utoipa::ToSchema;
use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, Parameter, ParameterBuilder, ParameterIn, PathItem,
    PathsBuilder,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{
    ArrayBuilder, ComponentsBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type,
};
use utoipa::openapi::security::{
    ApiKey as ApiKeyScheme, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement,
    SecurityScheme,
};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    Content, Header, InfoBuilder, OpenApi, OpenApiBuilder, Ref, RefOr, Required, Response,
    ResponseBuilder,
};

use crate::route_docs::route_doc;
use import_core::api::{
    self, API_KEY_HEADER, ApiRequest, IDEMPOTENCY_KEY_HEADER, RATE_LIMIT_LIMIT_HEADER,
    RATE_LIMIT_REMAINING_HEADER, RATE_LIMIT_RESET_HEADER, REPLAYED_HEADER, RETRY_AFTER_HEADER,
    display_header,
};
use import_core::fields::{IDEMPOTENCY_RETENTION, MAX_IDEMPOTENCY_KEY_LEN};
use import_core::routes;

use import_core::wire::{
    AddGcsIntegration, AddHfIntegration, AddS3Integration, CloudIntegration, ErrorBody, Folder,
    FolderRequest, ImportJob, ImportJobList, Probe, RetryRequest, RetryResponse, UploadBody,
    UploadResponse, VerifyResponse, VideoStatusResponse, VideosPage,
};
use import_core::{
    DEFAULT_JOB_PAGE_LIMIT, DEFAULT_PAGE_LIMIT, FolderId, ImportJobId, ImportRequest,
    ImportRequestBuilder, IntegrationId, JobListRequest, JobStatus, MAX_JOB_PAGE_LIMIT,
    MAX_PAGE_LIMIT, PageRequest, Provider, Scope, VideoId, ViewSet,
};

/// The security scheme of the `X-API-Key` header.
pub(crate) const API_KEY_SCHEME: &str = "api_key";
/// The security scheme of `Authorization: Bearer <key>`.
pub(crate) const BEARER_SCHEME: &str = "bearer";

/// The header names as the contract spells them (HTTP header names are
/// case-insensitive; [`import_core::api`] holds them in lower case).
const JSON: &str = "application/json";

/// Prefix of the placeholder ids the request constructors are called with.
const PLACEHOLDER_PREFIX: &str = "PARAM_";

const DESCRIPTION: &str = "\
The HTTP contract of the cloud video import API: name objects in one bucket of \
Google Cloud Storage (`gs://`), Amazon S3 or an S3-compatible store (`s3://`), or \
a Hugging Face Storage Bucket (`hf://buckets/...`); the API answers with an import \
job at once and copies in the background; poll the job until it is ready.

All bodies are JSON. Times are RFC 3339 UTC strings. Unknown request fields are \
ignored; clients must ignore unknown response fields.

Authenticate with `X-API-Key: <key>` or `Authorization: Bearer <key>`. A missing \
or unknown key is `401`; a resource of another tenant is `404`, never `403`.

Every POST and DELETE takes an optional `Idempotency-Key` (1 to {max_key} printable \
characters): the same key with the same body within {hours} hours returns the first \
answer again, with a different body it is `409`. `X-Request-ID` is echoed.

Every 4xx and 5xx body is an `ErrorBody`: `{\"detail\": \"...\"}`, or for field \
validation `{\"detail\": [{\"loc\": [\"body\", \"keys\", 3], \"msg\": \"...\"}]}`. \
`429` and `503` carry `Retry-After` seconds. A 5xx is never the answer to bad input.

Every operation lists the answers it gives because of what it is: with a key, \
`401`, `429`, `500` and `503` (the server's database busy or away); with a body, \
`400`, `408`, `413` and `422`; with an `Idempotency-Key`, `409` and `422`. Answers \
to a key carry `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` \
(*extension*); a replayed answer carries `Idempotent-Replayed: true`. A path the \
document does not list is `404`; a method a listed path does not take is `405`; \
a route of the contract this server does not implement would be `501`.

Operations and fields marked **Extension** are this project's additions to the \
hosted API: clients must not require them from a server, and use them when present.";

/// [`DESCRIPTION`] with the core's limits written in.
fn description() -> String {
    DESCRIPTION
        .replace("{max_key}", &MAX_IDEMPOTENCY_KEY_LEN.to_string())
        .replace(
            "{hours}",
            &(IDEMPOTENCY_RETENTION.as_secs() / 3600).to_string(),
        )
}

/// The OpenAPI 3.1 document of every route of the contract.
///
/// The result is deterministic: paths, schemas and responses are kept in
/// ordered maps, so serialising it twice gives the same bytes.
pub(crate) fn document() -> OpenApi {
    let mut paths = PathsBuilder::new();
    let mut components = ComponentsBuilder::new()
        .security_scheme(
            API_KEY_SCHEME,
            SecurityScheme::ApiKey(ApiKeyScheme::Header(ApiKeyValue::with_description(
                display_header(API_KEY_HEADER),
                "The API key.".to_owned(),
            ))),
        )
        .security_scheme(
            BEARER_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The same API key as a bearer token."))
                    .build(),
            ),
        );
    let mut registry = Registry::default();
    registry.add::<ErrorBody>();
    for (path, method, operation) in operations(&mut registry) {
        paths = paths.path(path, PathItem::new(method, operation));
    }
    for &status in &registry.errors {
        components = components.response(error_response_name(status), error_response(status, None));
    }
    components = components.schemas_from_iter(registry.schemas);

    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Cloud video import API")
                // xtask takes the workspace version, as the core does.
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(description())),
        )
        .paths(paths)
        .components(Some(components.build()))
        .security(Some([
            SecurityRequirement::new(API_KEY_SCHEME, Vec::<String>::new()),
            SecurityRequirement::new(BEARER_SCHEME, Vec::<String>::new()),
        ]))
        .tags(Some(TAGS.iter().map(|(name, description)| {
            TagBuilder::new()
                .name(*name)
                .description(Some(*description))
                .build()
        })))
        .build()
}

const TAGS: [(&str, &str); 5] = [
    (
        "operations",
        "Probes and metrics of the reference server (no API key).",
    ),
    ("keys", "API keys."),
    ("folders", "Folders that imported videos go into."),
    (
        "cloud-integrations",
        "Saved bucket credentials; secrets are write-only.",
    ),
    (
        "imports",
        "Starting imports, following them, retrying failed rows.",
    ),
];

/// A described operation: its path template, method and operation object.
type Described = (String, HttpMethod, Operation);

/// Every operation of the contract, in the order of the contract.
fn operations(registry: &mut Registry) -> Vec<Described> {
    let job: ImportJobId = placeholder("import_job_id");
    let folder_request = FolderRequest {
        name: "fleet_uploads".to_owned(),
        scope: Scope::Org,
        description: None,
    };
    let mut ops = vec![
        Route::new(api::verify_auth(), routes::VERIFY_AUTH, "keys").finish(registry),
        Route::new(
            api::create_or_get_folder(&folder_request),
            routes::CREATE_OR_GET_FOLDER,
            "folders",
        )
        .body::<FolderRequest>()
        .finish(registry),
        Route::new(
            api::create_folder(&folder_request),
            routes::CREATE_FOLDER,
            "folders",
        )
        .body::<FolderRequest>()
        .finish(registry),
        Route::new(
            api::get_folder("fleet_uploads", Scope::Org),
            routes::GET_FOLDER,
            "folders",
        )
        .query("name", true, "The folder name.", string_schema())
        .query_ref::<Scope>(
            "scope",
            false,
            "`user` (the caller's own, the default) or `org`.",
        )
        .finish(registry),
        Route::new(
            api::list_integrations(),
            routes::LIST_INTEGRATIONS,
            "cloud-integrations",
        )
        .finish(registry),
        Route::new(
            api::add_gcs_integration(&sample_gcs_integration()),
            routes::ADD_GCS_INTEGRATION,
            "cloud-integrations",
        )
        .body::<AddGcsIntegration>()
        .finish(registry),
        Route::new(
            api::add_s3_integration(&sample_s3_integration()),
            routes::ADD_S3_INTEGRATION,
            "cloud-integrations",
        )
        .body::<AddS3Integration>()
        .finish(registry),
        Route::new(
            api::add_hf_integration(&sample_hf_integration()),
            routes::ADD_HF_INTEGRATION,
            "cloud-integrations",
        )
        .body::<AddHfIntegration>()
        .finish(registry),
        Route::new(
            api::delete_integration(&placeholder("id")),
            routes::DELETE_INTEGRATION,
            "cloud-integrations",
        )
        .path_param::<IntegrationId>("id", "The integration.")
        .finish(registry),
    ];
    ops.extend(upload_operations(registry));
    ops.extend([
        Route::new(api::get_import_job(&job), routes::GET_IMPORT_JOB, "imports")
            .path_param::<ImportJobId>("import_job_id", "The import job.")
            .finish(registry),
        Route::new(
            api::get_import_job_videos(&job, &sample_cursor_page()),
            routes::GET_IMPORT_JOB_VIDEOS,
            "imports",
        )
        .path_param::<ImportJobId>("import_job_id", "The import job.")
        .query(
            "limit",
            false,
            "Rows per page.",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
                .minimum(Some(1))
                .maximum(Some(MAX_PAGE_LIMIT))
                .default(Some(DEFAULT_PAGE_LIMIT.into()))
                .into(),
        )
        .query_ref::<VideoId>(
            "cursor",
            false,
            "The last `video_id` of the previous page; not with `offset`.",
        )
        .query(
            "offset",
            false,
            "Rows to skip; not with `cursor`, not on a multi-view job.",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .minimum(Some(0))
                .into(),
        )
        .finish(registry),
        Route::new(
            api::retry_import_job(&job, None),
            routes::RETRY_IMPORT_JOB,
            "imports",
        )
        .path_param::<ImportJobId>("import_job_id", "The import job.")
        .body::<RetryRequest>()
        .finish(registry),
        Route::new(
            api::get_video_status(&placeholder("video_id")),
            routes::GET_VIDEO_STATUS,
            "imports",
        )
        .path_param::<VideoId>("video_id", "The video.")
        .finish(registry),
        Route::new(
            api::list_import_jobs(&JobListRequest::new()),
            routes::LIST_IMPORT_JOBS,
            "imports",
        )
        .query(
            "limit",
            false,
            "Jobs per page.",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
                .minimum(Some(1))
                .maximum(Some(MAX_JOB_PAGE_LIMIT))
                .default(Some(DEFAULT_JOB_PAGE_LIMIT.into()))
                .into(),
        )
        .query_ref::<ImportJobId>(
            "cursor",
            false,
            "The previous page's `next_cursor`: older jobs follow.",
        )
        .query_ref::<JobStatus>("status", false, "Only jobs in this status.")
        .query_ref::<FolderId>("folder_id", false, "Only jobs into this folder.")
        .query(
            "created_after",
            false,
            "Only jobs created after this RFC 3339 UTC time (`2026-11-28T17:34:06Z`).",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
                .into(),
        )
        .finish(registry),
        Route::new(api::health(), routes::HEALTHZ, "operations").finish(registry),
        Route::new(api::readiness(), routes::READYZ, "operations").finish(registry),
        Route::new(api::metrics(), routes::METRICS, "operations").finish(registry),
        Route::new(
            api::cancel_import_job(&job),
            routes::CANCEL_IMPORT_JOB,
            "imports",
        )
        .path_param::<ImportJobId>("import_job_id", "The import job.")
        .finish(registry),
    ]);
    ops
}

/// The three upload routes, with example bodies written by [`ImportRequest`].
fn upload_operations(registry: &mut Registry) -> Vec<Described> {
    let gcs = sample_import(
        ImportRequest::builder()
            .uris([
                "gs://drive-archive/uploads/trip-042/front.mp4",
                "gs://drive-archive/uploads/trip-042/rear.mp4",
            ])
            .integration_id(placeholder_id("ci_01J9ZK3Y8C")),
    );
    let s3 = sample_import(
        ImportRequest::builder()
            .uris([
                "s3://drive-monitor-archive/uploads/trip-042/front.mp4",
                "s3://drive-monitor-archive/uploads/trip-042/rear.mp4",
            ])
            .folder_id(placeholder_id("fo_01J9ZK3X7B"))
            .scope(Scope::Org),
    );
    let s3_multi_view = sample_import(
        ImportRequest::builder().view_set(
            ViewSet::from_pairs([
                ("front", "s3://drive-monitor-archive/t/front.mp4"),
                ("left", "s3://drive-monitor-archive/t/left.mp4"),
            ])
            .unwrap_or_else(|e| panic!("the sample view set is valid: {e}")),
        ),
    );
    let hf = sample_import(
        ImportRequest::builder().uris(["hf://buckets/fleet/drives/2024-09-01/front.mp4"]),
    );
    let samples: [(Provider, Vec<(&str, &ImportRequest)>); 3] = [
        (Provider::Gcs, vec![("single_view", &gcs)]),
        (
            Provider::S3,
            vec![("single_view", &s3), ("multi_view", &s3_multi_view)],
        ),
        (Provider::HfBucket, vec![("single_view", &hf)]),
    ];
    samples
        .into_iter()
        .map(|(provider, examples)| {
            let (_, first) = examples[0];
            Route::new(upload(first), routes::upload(provider), "imports")
                .body_examples::<UploadBody>(
                    examples
                        .iter()
                        .map(|(name, request)| (*name, body_json(&upload(request)))),
                )
                .finish(registry)
        })
        .collect()
}

fn sample_import(builder: ImportRequestBuilder) -> ImportRequest {
    builder
        .build()
        .unwrap_or_else(|e| panic!("the sample import request is valid: {e}"))
}

fn upload(request: &ImportRequest) -> ApiRequest<UploadResponse> {
    api::upload(request).unwrap_or_else(|e| panic!("the sample import request has a route: {e}"))
}

fn body_json<T>(request: &ApiRequest<T>) -> serde_json::Value {
    request
        .body()
        .and_then(|b| serde_json::from_slice(b).ok())
        .unwrap_or_default()
}

fn sample_cursor_page() -> PageRequest {
    PageRequest::new(
        DEFAULT_PAGE_LIMIT,
        Some(placeholder_id("vi_01J9ZK3W2A")),
        None,
    )
    .unwrap_or_else(|e| panic!("the sample page is valid: {e}"))
}

fn sample_gcs_integration() -> AddGcsIntegration {
    AddGcsIntegration {
        name: "GCS archive".to_owned(),
        kind: Provider::Gcs,
        service_account: serde_json::Value::Object(serde_json::Map::new()),
        bucket: "drive-archive".to_owned(),
        prefix: None,
    }
}

fn sample_s3_integration() -> AddS3Integration {
    AddS3Integration {
        name: "AWS archive".to_owned(),
        kind: Provider::S3,
        access_key_id: String::new(),
        secret_access_key: String::new(),
        session_token: None,
        region: Some("us-east-1".to_owned()),
        endpoint_url: None,
        bucket: "drive-archive".to_owned(),
        prefix: None,
    }
}

fn sample_hf_integration() -> AddHfIntegration {
    AddHfIntegration {
        name: "HF drives".to_owned(),
        kind: Provider::HfBucket,
        token: String::new(),
        bucket: "fleet/drives".to_owned(),
        prefix: None,
    }
}

/// An id whose text is `PARAM_<name>`: [`Route::new`] checks that the
/// request constructor puts it where the template has `{name}`.
fn placeholder<I>(name: &str) -> I
where
    I: FromStr,
    I::Err: std::fmt::Display,
{
    placeholder_id(&format!("{PLACEHOLDER_PREFIX}{name}"))
}

fn placeholder_id<I>(text: &str) -> I
where
    I: FromStr,
    I::Err: std::fmt::Display,
{
    text.parse()
        .unwrap_or_else(|e| panic!("`{text}` is a valid sample id: {e}"))
}

/// How the answer type of an [`ApiRequest`] appears in the document.
trait Answer {
    /// The schema of the body, registering what it refers to; `None` for no body.
    fn body_schema(registry: &mut Registry) -> Option<RefOr<Schema>>;
}

impl Answer for () {
    fn body_schema(_: &mut Registry) -> Option<RefOr<Schema>> {
        None
    }
}

impl<T: ToSchema> Answer for Vec<T> {
    fn body_schema(registry: &mut Registry) -> Option<RefOr<Schema>> {
        registry.add::<T>();
        Some(ArrayBuilder::new().items(schema_ref::<T>()).into())
    }
}

macro_rules! answers {
    ($($ty:ty),* $(,)?) => {$(
        impl Answer for $ty {
            fn body_schema(registry: &mut Registry) -> Option<RefOr<Schema>> {
                registry.add::<$ty>();
                Some(schema_ref::<$ty>())
            }
        }
    )*};
}

answers!(
    VerifyResponse,
    Folder,
    CloudIntegration,
    UploadResponse,
    ImportJob,
    VideosPage,
    RetryResponse,
    VideoStatusResponse,
    ImportJobList,
    Probe,
);

/// The components the operations refer to.
#[derive(Default)]
struct Registry {
    /// Named schemas; a name may come more than once, with the same schema.
    schemas: Vec<(String, RefOr<Schema>)>,
    /// Errors answered with the shared response of their code.
    errors: BTreeSet<StatusCode>,
}

impl Registry {
    /// Register `T` and every schema it refers to.
    fn add<T: ToSchema>(&mut self) {
        let mut found = vec![(T::name().into_owned(), T::schema())];
        T::schemas(&mut found);
        for (name, mut schema) in found {
            if let RefOr::T(schema) = &mut schema {
                strip_rust_docs(schema);
                if BODIES_WITH_TEXT_RULES.contains(&name.as_str()) {
                    document_text_limits(schema);
                }
            }
            self.schemas.push((name, schema));
        }
    }
}

/// The request bodies whose text fields follow the core's field rules.
const BODIES_WITH_TEXT_RULES: &[&str] = &[
    "FolderRequest",
    "AddS3Integration",
    "AddGcsIntegration",
    "AddHfIntegration",
];

/// Give each text property of a body schema the `maxLength` and `pattern`
/// the core checks ([`import_core::fields::documented_limit`]).
fn document_text_limits(schema: &mut Schema) {
    let Schema::Object(object) = schema else {
        return;
    };
    for (property, field) in &mut object.properties {
        let Some((max, pattern)) = import_core::fields::documented_limit(property) else {
            continue;
        };
        if let RefOr::T(Schema::Object(field)) = field {
            field.max_length = Some(max);
            field.pattern = Some(pattern.to_owned());
        }
    }
}

/// The shared response of an error code: `NotFound` for `404`.
fn error_response_name(status: StatusCode) -> String {
    status
        .canonical_reason()
        .unwrap_or("Error")
        .replace([' ', '-'], "")
}

/// Drop what only a Rust reader needs from a schema's description: doctest
/// blocks, and intra-doc links (`[`crate::ImportRequest`]` becomes
/// `` `ImportRequest` ``).
fn strip_rust_docs(schema: &mut Schema) {
    let description = match schema {
        Schema::Object(o) => &mut o.description,
        Schema::Array(a) => &mut a.description,
        Schema::OneOf(o) => &mut o.description,
        Schema::AllOf(a) => &mut a.description,
        Schema::AnyOf(a) => &mut a.description,
        _ => return,
    };
    let Some(text) = description.as_mut() else {
        return;
    };
    let mut out = String::with_capacity(text.len());
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if !in_code {
            out.push_str(line);
            out.push('\n');
        }
    }
    let mut out = out.trim_end().to_owned();
    while let Some(start) = out.find("[`") {
        let Some(len) = out[start..].find("`]") else {
            break;
        };
        let path = &out[start + 2..start + len];
        let name = path.rsplit("::").next().unwrap_or(path).to_owned();
        out.replace_range(start..start + len + 2, &format!("`{name}`"));
    }
    *text = out;
}

fn schema_ref<T: ToSchema>() -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(T::name()))
}

fn string_schema() -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::String).into()
}

/// One operation being described; `T` is the answer type of its request.
struct Route<T> {
    method: Method,
    /// The template of the route table, `{name}` for a path parameter.
    path: String,
    /// Answers without an API key: no security, no `401`.
    public: bool,
    has_body: bool,
    wants_idempotency_key: bool,
    /// The route of the table (its common answers).
    route: routes::Route,
    operation: OperationBuilder,
    params: Vec<Parameter>,
    uses: Vec<fn(&mut Registry)>,
    body: Option<RefOr<Schema>>,
    body_examples: Vec<(String, serde_json::Value)>,
    answer: PhantomData<fn() -> T>,
}

impl<T: Answer> Route<T> {
    /// The operation of `route` of the table, whose request constructor
    /// gave `request` (called with [`placeholder`] ids): the method, template
    /// and operation id come from the table, the body and the answer type
    /// from the request, and the two must agree.
    fn new(request: ApiRequest<T>, route: routes::Route, tag: &str) -> Route<T> {
        let filled = match route.template.split_once('{') {
            Some((_, rest)) => {
                let name = rest.split('}').next().unwrap_or_default();
                route.fill(&format!("{PLACEHOLDER_PREFIX}{name}"))
            }
            None => route.template.to_owned(),
        };
        assert_eq!(
            (request.method(), request.path()),
            (&route.method(), filled.as_str()),
            "the constructor of `{}` does not fill its template `{}`",
            route.operation_id,
            route.template
        );
        Route {
            method: route.method(),
            path: route.template.to_owned(),
            public: route.public,
            has_body: request.body().is_some(),
            wants_idempotency_key: route.takes_idempotency_key(),
            route,
            operation: describe(
                OperationBuilder::new()
                    .operation_id(Some(route.operation_id))
                    .tag(tag),
                &route,
            ),
            params: Vec::new(),
            uses: Vec::new(),
            body: None,
            body_examples: Vec::new(),
            answer: PhantomData,
        }
    }

    /// A path parameter: `{name}` of the template.
    fn path_param<I: ToSchema>(mut self, name: &str, description: &str) -> Self {
        assert!(
            self.path.contains(&format!("{{{name}}}")),
            "`{}` has no `{{{name}}}` segment",
            self.path
        );
        self.params.push(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some(description))
                .schema(Some(schema_ref::<I>()))
                .build(),
        );
        self.uses.push(Registry::add::<I>);
        self
    }

    fn query(
        mut self,
        name: &str,
        required: bool,
        description: &str,
        schema: RefOr<Schema>,
    ) -> Self {
        self.params.push(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Query)
                .required(if required {
                    Required::True
                } else {
                    Required::False
                })
                .description(Some(description))
                .schema(Some(schema))
                .build(),
        );
        self
    }

    /// A query parameter whose schema is a wire type.
    fn query_ref<I: ToSchema>(self, name: &str, required: bool, description: &str) -> Self {
        let mut route = self.query(name, required, description, schema_ref::<I>());
        route.uses.push(Registry::add::<I>);
        route
    }

    fn body<B: ToSchema>(mut self) -> Self {
        self.body = Some(schema_ref::<B>());
        self.uses.push(Registry::add::<B>);
        self
    }

    fn body_examples<B: ToSchema>(
        mut self,
        examples: impl IntoIterator<Item = (&'static str, serde_json::Value)>,
    ) -> Self {
        self.body_examples = examples
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect();
        self.body::<B>()
    }

    /// The path template, method and operation, with the shared parts every
    /// route has: the `Idempotency-Key` header, `409` and `422` on POST and
    /// DELETE, `400`, `408`, `413` and `422` with a body, `401` and `429`
    /// always.
    fn finish(self, registry: &mut Registry) -> Described {
        let mut operation = self.operation;
        let mut params = self.params;
        if self.wants_idempotency_key {
            params.push(
                ParameterBuilder::new()
                    .name(display_header(IDEMPOTENCY_KEY_HEADER))
                    .parameter_in(ParameterIn::Header)
                    .required(Required::False)
                    .description(Some(format!(
                        "1 to {MAX_IDEMPOTENCY_KEY_LEN} printable characters. The same key with \
                         the same body within {} hours returns the first answer again and does \
                         no new work.",
                        IDEMPOTENCY_RETENTION.as_secs() / 3600
                    )))
                    .schema(Some(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .min_length(Some(1))
                            .max_length(Some(MAX_IDEMPOTENCY_KEY_LEN)),
                    ))
                    .build(),
            );
        }
        operation = operation.parameters(Some(params));

        for add in self.uses {
            add(registry);
        }
        if let Some(body) = self.body {
            let content =
                Content::builder()
                    .schema(Some(body))
                    .examples_from_iter(self.body_examples.into_iter().map(|(name, value)| {
                        (name, ExampleBuilder::new().value(Some(value)).build())
                    }))
                    .build();
            operation = operation.request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .content(JSON, content)
                    .build(),
            ));
        }

        // The route table's answers: its success first, then its own errors.
        let (success, own) = self
            .route
            .answers
            .split_first()
            .unwrap_or_else(|| panic!("{} {} lists no answer", self.method, self.path));
        let status = status_code(success.status);
        let mut ok = ResponseBuilder::new().description(success.meaning.unwrap_or("Done."));
        if let Some(schema) = T::body_schema(registry) {
            ok = ok.content(JSON, Content::new(Some(schema)));
        }
        if !self.public {
            for (name, meaning) in RATE_LIMIT_HEADERS {
                ok = ok.header(display_header(name), integer_header(meaning));
            }
        }
        if self.wants_idempotency_key {
            ok = ok.header(
                display_header(REPLAYED_HEADER),
                Header::builder()
                    .schema(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["true"])))
                    .description(Some(
                        "`true` when this is the recorded answer of an earlier request with the same `Idempotency-Key` (*extension*).",
                    ))
                    .build(),
            );
        }
        operation = operation.response(status.as_str(), ok.build());

        let mut errors: Vec<(StatusCode, Option<&'static str>)> = own
            .iter()
            .map(|a| (status_code(a.status), a.meaning))
            .collect();
        if self.public {
            // No key to check: the operation overrides the document's security.
            operation = operation.securities(Some(Vec::<SecurityRequirement>::new()));
        }
        // What the route may answer because of what it is (a key, a body, an
        // `Idempotency-Key`): the core's table beside the route table.
        let defaults: Vec<StatusCode> = routes::common_answers(&self.route, self.has_body)
            .iter()
            .filter_map(|a| StatusCode::from_u16(a.status).ok())
            .collect();
        for status in defaults {
            if !errors.iter().any(|(s, _)| *s == status) {
                errors.push((status, None));
            }
        }
        for (status, description) in errors {
            operation = match description {
                Some(description) => {
                    operation.response(status.as_str(), error_response(status, Some(description)))
                }
                None => {
                    registry.errors.insert(status);
                    operation.response(
                        status.as_str(),
                        Ref::from_response_name(error_response_name(status)),
                    )
                }
            };
        }

        let method = match self.method {
            Method::GET => HttpMethod::Get,
            Method::POST => HttpMethod::Post,
            Method::PUT => HttpMethod::Put,
            Method::PATCH => HttpMethod::Patch,
            Method::DELETE => HttpMethod::Delete,
            ref other => panic!("no route of the contract uses {other}"),
        };
        (self.path, method, operation.build())
    }
}

/// The `http` status of a status of the route table.
fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or_else(|e| panic!("status {status}: {e}"))
}

/// The summary and description of a route, from the doc comment of its
/// constant in the route table; on a route of ours that the hosted API does
/// not have (an extension), the description opens with a note that says so.
fn describe(operation: OperationBuilder, route: &routes::Route) -> OperationBuilder {
    let doc = route_doc(route.operation_id, route.bulk);
    let description = match (route.extension, doc.description) {
        (true, Some(description)) => Some(format!(
            "**Extension**: a route of this project, not of the hosted API; clients must not \
             require it. {description}"
        )),
        (_, description) => description,
    };
    operation
        .summary(Some(doc.summary))
        .description(description)
}

fn error_response(status: StatusCode, description: Option<&str>) -> Response {
    let common = routes::common_answer(status.as_u16());
    let description = description.unwrap_or(match (status, common) {
        (StatusCode::NOT_FOUND, _) => "Not found, or not visible to the caller.",
        (_, Some(common)) => common.meaning,
        _ => "The request failed.",
    });
    let mut response = ResponseBuilder::new().description(description);
    if common.is_none_or(|c| c.body) {
        response = response.content(JSON, Content::new(Some(schema_ref::<ErrorBody>())));
    }
    if common.is_some_and(|c| c.retry_after) {
        response = response.header(
            display_header(RETRY_AFTER_HEADER),
            Header::builder()
                .schema(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(0)),
                )
                .description(Some("Seconds to wait before retrying."))
                .build(),
        );
    }
    response.build()
}

/// The rate-limit headers on every answer to a key (*extension*), with what
/// each says.
const RATE_LIMIT_HEADERS: [(&str, &str); 3] = [
    (
        RATE_LIMIT_LIMIT_HEADER,
        "Requests the key may make per minute (*extension*).",
    ),
    (
        RATE_LIMIT_REMAINING_HEADER,
        "Requests the key may still make at once (*extension*).",
    ),
    (
        RATE_LIMIT_RESET_HEADER,
        "Whole seconds until the key may make its whole limit at once again (*extension*).",
    ),
];

/// A response header holding a whole number of at least 0.
fn integer_header(description: &str) -> Header {
    Header::builder()
        .schema(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0)),
        )
        .description(Some(description))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every route of the contract, as `spec/api.md` writes it.
    const CONTRACT: [(&str, &str); 21] = [
        ("POST", "/api/keys/verify"),
        ("POST", "/api/folders/create-or-get"),
        ("POST", "/api/folders"),
        ("GET", "/api/folders/get"),
        ("GET", "/api/cloud-integrations"),
        ("POST", "/api/cloud-integrations/gcs"),
        ("POST", "/api/cloud-integrations/s3"),
        ("POST", "/api/cloud-integrations/hf-bucket"),
        ("DELETE", "/api/cloud-integrations/{id}"),
        ("POST", "/api/gcs/upload"),
        ("POST", "/api/s3/upload"),
        ("POST", "/api/hf-buckets/upload"),
        ("GET", "/api/import-jobs/{import_job_id}"),
        ("GET", "/api/import-jobs/{import_job_id}/videos"),
        ("POST", "/api/import-jobs/{import_job_id}/retry"),
        ("GET", "/api/video/{video_id}/status"),
        ("GET", "/api/import-jobs"),
        ("POST", "/api/import-jobs/{import_job_id}/cancel"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
    ];

    fn json() -> serde_json::Value {
        serde_json::to_value(document()).unwrap()
    }

    fn sample(template: &str) -> String {
        template
            .replace("{id}", "ci_7")
            .replace("{import_job_id}", "ij_7")
            .replace("{video_id}", "vi_7")
    }

    #[test]
    fn the_routes_are_the_contracts_and_come_from_the_constructors() {
        let doc = json();
        let mut found = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                found.insert((method.to_ascii_uppercase(), path.clone()));
            }
        }
        let expected: BTreeSet<(String, String)> = CONTRACT
            .iter()
            .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
            .collect();
        assert_eq!(found, expected);

        // The constructors called with real ids give the templates filled in.
        let job: ImportJobId = "ij_7".parse().unwrap();
        let page = PageRequest::new(10, None, Some(20)).unwrap();
        let concrete = [
            api::delete_integration(&"ci_7".parse().unwrap())
                .path()
                .to_owned(),
            api::get_import_job(&job).path().to_owned(),
            api::get_import_job_videos(&job, &page).path().to_owned(),
            api::retry_import_job(&job, None).path().to_owned(),
            api::get_video_status(&"vi_7".parse().unwrap())
                .path()
                .to_owned(),
        ];
        for path in concrete {
            assert!(
                CONTRACT.iter().any(|(_, t)| sample(t) == path),
                "{path} matches no template"
            );
        }
        for (provider, (_, template)) in Provider::ALL.into_iter().zip(&CONTRACT[9..12]) {
            assert_eq!(import_core::upload_route(provider), *template);
        }
    }

    #[test]
    fn every_query_parameter_a_constructor_sends_is_documented() {
        let doc = json();
        let job: ImportJobId = "ij_7".parse().unwrap();
        let by_cursor = PageRequest::new(10, Some("vi_1".parse().unwrap()), None).unwrap();
        let by_offset = PageRequest::new(10, None, Some(20)).unwrap();
        let sent = [
            (
                "/api/folders/get",
                api::get_folder("trips", Scope::User).query().to_vec(),
            ),
            (
                "/api/import-jobs/{import_job_id}/videos",
                api::get_import_job_videos(&job, &by_cursor)
                    .query()
                    .to_vec(),
            ),
            (
                "/api/import-jobs/{import_job_id}/videos",
                api::get_import_job_videos(&job, &by_offset)
                    .query()
                    .to_vec(),
            ),
        ];
        for (path, query) in sent {
            assert!(!query.is_empty());
            for (name, _) in query {
                let documented = doc["paths"][path]["get"]["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| p["name"] == name && p["in"] == "query");
                assert!(documented, "GET {path} does not document `{name}`");
            }
        }
        // Routes without a query take none.
        let verify = api::verify_auth();
        assert!(verify.query().is_empty());
    }

    #[test]
    fn path_parameters_match_the_templates() {
        let doc = json();
        for (path, item) in doc["paths"].as_object().unwrap() {
            assert!(!path.contains(PLACEHOLDER_PREFIX), "{path}");
            let templated: BTreeSet<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            for (_, op) in item.as_object().unwrap() {
                let declared: BTreeSet<&str> = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| p["in"] == "path")
                    .map(|p| p["name"].as_str().unwrap())
                    .collect();
                assert_eq!(templated, declared, "{path}");
            }
        }
    }

    #[test]
    fn every_reference_resolves() {
        let doc = json();
        let mut refs = Vec::new();
        collect_refs(&doc, &mut refs);
        assert!(refs.len() > 30, "{}", refs.len());
        for r in refs {
            let pointer = r.strip_prefix('#').unwrap();
            assert!(doc.pointer(pointer).is_some(), "dangling {r}");
        }
    }

    fn collect_refs(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("$ref", serde_json::Value::String(r)) => out.push(r.clone()),
                        _ => collect_refs(v, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn the_wire_types_are_components() {
        let doc = json();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for name in [
            "Folder",
            "FolderRequest",
            "CloudIntegration",
            "AddGcsIntegration",
            "AddS3Integration",
            "AddHfIntegration",
            "UploadBody",
            "UploadResponse",
            "ImportJob",
            "VideosPage",
            "VideoRow",
            "RetryRequest",
            "RetryResponse",
            "VideoStatusResponse",
            "ErrorBody",
            "VerifyResponse",
            "ImportJobId",
            "FolderId",
            "Scope",
            "VideoStatus",
        ] {
            assert!(schemas.contains_key(name), "{name} missing");
        }
    }

    #[test]
    fn errors_security_and_extensions() {
        let doc = json();
        assert_eq!(doc["openapi"], "3.1.0");
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes[API_KEY_SCHEME]["in"], "header");
        assert_eq!(schemes[API_KEY_SCHEME]["name"], "X-API-Key");
        assert_eq!(schemes[BEARER_SCHEME]["scheme"], "bearer");

        let paths = &doc["paths"];
        let upload = &paths["/api/s3/upload"]["post"];
        let resolve = |r: &'_ serde_json::Value| -> serde_json::Value {
            match r["$ref"].as_str() {
                Some(target) => doc.pointer(&target[1..]).unwrap().clone(),
                None => r.clone(),
            }
        };
        for code in ["200", "400", "401", "404", "409", "413", "422", "429"] {
            let r = resolve(&upload["responses"][code]);
            assert!(r["description"].is_string(), "upload has no {code}");
            if code != "200" {
                assert_eq!(
                    r["content"][JSON]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody"
                );
            }
        }
        assert_eq!(
            upload["responses"]["401"]["$ref"],
            "#/components/responses/Unauthorized"
        );
        assert!(resolve(&upload["responses"]["429"])["headers"]["Retry-After"].is_object());
        assert_eq!(
            upload["requestBody"]["content"][JSON]["examples"]["single_view"]["value"]["keys"][0],
            "uploads/trip-042/front.mp4"
        );
        assert!(
            upload["requestBody"]["content"][JSON]["examples"]["multi_view"]["value"]["sets"]
                .is_array()
        );

        let delete = &paths["/api/cloud-integrations/{id}"]["delete"];
        assert!(
            delete["description"]
                .as_str()
                .unwrap()
                .starts_with("**Extension**")
        );
        assert!(delete["responses"]["204"]["content"].is_null());
        let status = &paths["/api/video/{video_id}/status"]["get"];
        assert!(
            status["description"]
                .as_str()
                .unwrap()
                .starts_with("**Extension**")
        );

        let list = &paths["/api/cloud-integrations"]["get"]["responses"]["200"];
        assert_eq!(
            list["content"][JSON]["schema"]["items"]["$ref"],
            "#/components/schemas/CloudIntegration"
        );
        assert!(
            paths["/api/folders"]["post"]["responses"]["409"]["description"]
                .as_str()
                .unwrap()
                .contains("exists")
        );
        let videos = &paths["/api/import-jobs/{import_job_id}/videos"]["get"];
        let limit = videos["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .unwrap();
        assert_eq!(limit["schema"]["maximum"], MAX_PAGE_LIMIT);
        assert_eq!(limit["schema"]["default"], DEFAULT_PAGE_LIMIT);
        // GETs take no idempotency key; POSTs and DELETEs do.
        assert!(
            videos["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["in"] != "header")
        );
        assert!(
            delete["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "Idempotency-Key")
        );
    }

    #[test]
    fn the_document_is_deterministic() {
        let a = document().to_pretty_json().unwrap();
        let b = document().to_pretty_json().unwrap();
        assert_eq!(a, b);
    }
}
