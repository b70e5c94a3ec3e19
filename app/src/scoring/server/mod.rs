//! Recomputing and storing scores over the whole estate.

pub mod repo;
