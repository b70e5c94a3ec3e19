//! Recomputing and storing scores over the whole estate; the settings and rules behind them.

pub mod repo;
pub mod settings;
