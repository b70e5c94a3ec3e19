//! The inventory's SQL. Portable runtime queries: one text for SQLite and PostgreSQL.

pub mod repo;
