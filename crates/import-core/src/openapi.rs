//! OpenAPI document (placeholder until written).
