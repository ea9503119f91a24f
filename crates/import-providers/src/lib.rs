//! Bucket access (being written).
