//! attest: access reviews for human and machine identities.
//!
//! The UI and its server functions live here, one folder per domain. Everything under a
//! domain's `server/` folder is compiled only with the `ssr` feature: its rules and its SQL.

/// People, roles and API tokens, for admins.
pub mod admin;
/// The shell, the layout and the one route table.
pub mod app;
/// Campaigns, the review queue and decisions in a tamper-evident log.
pub mod campaigns;
/// Widgets shared by several pages: pager, badges, the demo banner.
pub mod components;
/// The error server functions return: serializable, with no internals inside.
pub mod error;
/// Remediation of revocations, exceptions that come back, and exports for auditors.
pub mod evidence;
/// Reviewer groups: named sets of people a campaign can ask to review together.
pub mod groups;
/// The inventory of human and machine identities, applications and grants.
pub mod identities;
/// Snapshots from sources: parsing, validating and applying them in one transaction.
pub mod imports;
/// Mail: the outbox, launch notices, reminder digests, escalations and weekly summaries.
pub mod notifications;
/// The query language over grants: a parser with column-precise errors, compiled to SQL.
pub mod query;
/// The risk score of every grant: factors, weights, and recomputing them.
pub mod scoring;
/// Who is signed in, what their roles allow (the one place that decides), API tokens.
pub mod session;

/// Database access shared by every domain: the pool, the backend, migrations.
#[cfg(feature = "ssr")]
pub mod db;
/// The state every request handler and server function sees.
#[cfg(feature = "ssr")]
pub mod state;
/// Unix-second timestamps: parsing the shapes sources use, formatting for people.
pub mod time_fmt;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
