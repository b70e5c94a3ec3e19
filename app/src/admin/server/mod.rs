//! SQL of the admin pages.

pub mod repo;
