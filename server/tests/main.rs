//! Integration tests: the real router on a real SQLite file and, when
//! `ATTEST_TEST_POSTGRES_URL` is set, on a fresh PostgreSQL database per test.

mod helpers;

mod access;
mod auth;
mod campaigns;
mod cli;
mod evidence;
mod importers;
mod imports;
mod mail;
mod query;
mod risk;
mod tokens;
mod uploads;
mod web;
mod webhooks;
