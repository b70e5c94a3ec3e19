//! Reviewer groups in the database, and which member may see and decide which item.

pub mod repo;
