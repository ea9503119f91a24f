//! Local stand-ins of the clouds (being written).
