//! Campaign rules and SQL: compiled only on the server.

pub mod chain;
pub mod repo;
