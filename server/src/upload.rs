//! Snapshots that arrive over HTTP: from a script through the REST API, or from an admin on
//! the Imports page. Both read the upload into a temporary folder, parse it with the same
//! readers as `attest import`, and apply it in one transaction.

use std::path::PathBuf;

use app::identities::encode_component as encode;
use app::imports::server::formats::Format;
use app::imports::server::model::Snapshot;
use app::imports::server::{BadInput, Quiet, csv_bundle};
use app::session::Permission;
use app::session::server::Viewer;
use app::state::AppState;
use axum::Extension;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

/// The files the CSV bundle is made of.
pub const BUNDLE_FILES: [&str; 4] = ["identities.csv", "grants.csv", "applications.csv", "sod_rules.csv"];

/// How an upload is read: the CSV bundle, or one of the vendor formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    Bundle,
    Vendor(Format),
}

impl Reader {
    /// `csv` (also the default) or a format's name, as `attest import` takes it.
    pub fn parse(name: Option<&str>) -> Result<Reader, String> {
        match name.map(str::trim).filter(|n| !n.is_empty()) {
            None | Some("csv") => Ok(Reader::Bundle),
            Some(other) => Format::parse(other).map(Reader::Vendor).map_err(|e| format!("format: {e}, or csv")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Reader::Bundle => "csv",
            Reader::Vendor(format) => format.name(),
        }
    }
}

/// Every format an upload can be read as: (name, what it is).
pub fn formats() -> Vec<(String, String)> {
    let mut all = vec![("csv".to_string(), "CSV bundle: identities.csv, grants.csv, applications.csv, sod_rules.csv".to_string())];
    all.extend(Format::ALL.iter().map(|f| (f.name().to_string(), f.name().to_string())));
    all
}

/// Where the uploaded files were stored, and their paths in the order they came.
pub struct Received {
    pub dir: tempfile::TempDir,
    pub files: Vec<PathBuf>,
}

impl Received {
    pub fn new() -> std::io::Result<Received> {
        Ok(Received { dir: tempfile::tempdir()?, files: Vec::new() })
    }

    /// Stores one uploaded file under a safe version of its name; the CSV bundle's files keep
    /// their names, and anything else is refused for it.
    pub async fn store(&mut self, reader: Reader, name: Option<&str>, bytes: &[u8]) -> Result<(), String> {
        let name = match reader {
            Reader::Bundle => match name.filter(|n| BUNDLE_FILES.contains(n)) {
                Some(n) => n.to_string(),
                None => {
                    return Err(format!(
                        "unexpected file `{}`: the CSV bundle is identities.csv, grants.csv and optionally applications.csv and sod_rules.csv",
                        name.unwrap_or("(unnamed)")
                    ));
                }
            },
            Reader::Vendor(_) => {
                let base: String = name
                    .and_then(|n| n.rsplit(['/', '\\']).next())
                    .unwrap_or_default()
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
                    .take(100)
                    .collect();
                let base = base.trim_start_matches('.');
                // Numbered, so two files of the same name do not overwrite each other.
                format!("{:02}-{}", self.files.len() + 1, if base.is_empty() { "upload" } else { base })
            }
        };
        let path = self.dir.path().join(&name);
        tokio::fs::write(&path, bytes).await.map_err(|e| {
            tracing::error!(error = %e, "cannot store an upload");
            "the upload could not be stored".to_string()
        })?;
        self.files.push(path);
        Ok(())
    }

    /// Checks that the upload holds what its reader needs.
    pub fn complete(&self, reader: Reader) -> Result<(), String> {
        match reader {
            Reader::Bundle => {
                for required in ["identities.csv", "grants.csv"] {
                    if !self.files.iter().any(|f| f.file_name().is_some_and(|n| n == required)) {
                        return Err(format!("{required} is missing from the upload"));
                    }
                }
                Ok(())
            }
            Reader::Vendor(format) if self.files.is_empty() => Err(format!("no file was uploaded to read as {}", format.name())),
            Reader::Vendor(_) => Ok(()),
        }
    }

    /// Parses what was received, off the async threads. Problems name the uploaded file by the
    /// name it was sent with.
    pub async fn read(self, reader: Reader, source: &str) -> Result<Snapshot, ReadFailed> {
        let source = source.to_string();
        let dir = self.dir.path().to_path_buf();
        let files = self.files.clone();
        let read = tokio::task::spawn_blocking(move || match reader {
            Reader::Bundle => csv_bundle::read_bundle(&dir, &source, &Quiet),
            Reader::Vendor(format) => format.read(&files, &source),
        })
        .await;
        drop(self);
        match read {
            Ok(Ok(snapshot)) => Ok(snapshot),
            Ok(Err(mut bad)) => {
                for problem in &mut bad.problems {
                    problem.file = shown_name(&problem.file);
                }
                Err(ReadFailed::Refused(bad))
            }
            Err(e) => {
                tracing::error!(error = %e, "reading an upload failed");
                Err(ReadFailed::Crashed)
            }
        }
    }
}

/// Why an upload gave no snapshot.
pub enum ReadFailed {
    Refused(BadInput),
    Crashed,
}

/// `03-users.json` → `users.json`: the name the file was uploaded with.
fn shown_name(stored: &str) -> String {
    match stored.split_once('-') {
        Some((n, rest)) if n.len() == 2 && n.chars().all(|c| c.is_ascii_digit()) => rest.to_string(),
        _ => stored.to_string(),
    }
}

/// A source name: 1 to 100 letters, digits, `-`, `_` or `.`.
pub fn valid_source_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 100 && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `POST /admin/imports/upload` from the Imports page: multipart with `format`, `source` and
/// one or more `files`. Sends the browser back to the page with the outcome.
pub async fn admin_upload(State(state): State<AppState>, Extension(Viewer(user)): Extension<Viewer>, request: Request) -> Response {
    let Some(user) = user else { return Redirect::to("/sign-in").into_response() };
    if !user.may(Permission::ManageAccess) {
        tracing::warn!(user = %user.display_name, "refused an upload: role does not allow it");
        return (StatusCode::FORBIDDEN, "only admins import snapshots").into_response();
    }
    let back = |source: &str, outcome: Result<String, String>| {
        let (key, text) = match outcome {
            Ok(text) => ("done", text),
            Err(text) => ("refused", text),
        };
        Redirect::to(&format!("/admin/imports?source={}&{key}={}", encode(source), encode(&text))).into_response()
    };
    let mut form = match Multipart::from_request(request, &state).await {
        Ok(form) => form,
        Err(e) => return back("", Err(format!("the upload could not be read: {}", e.body_text()))),
    };
    let (mut reader, mut source) = (Reader::Bundle, String::new());
    let mut received = match Received::new() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot create a folder for an upload");
            return back("", Err("the upload could not be stored".into()));
        }
    };
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return back(&source, Err(format!("the upload could not be read: {}", e.body_text()))),
        };
        match field.name() {
            Some("format") => match field.text().await.map_err(|e| e.body_text()).and_then(|t| Reader::parse(Some(&t))) {
                Ok(r) => reader = r,
                Err(e) => return back(&source, Err(e)),
            },
            Some("source") => source = field.text().await.unwrap_or_default().trim().to_string(),
            Some("files") => {
                let name = field.file_name().map(str::to_string);
                let bytes = match field.bytes().await {
                    Ok(bytes) => bytes,
                    Err(e) => return back(&source, Err(format!("the upload could not be read: {}", e.body_text()))),
                };
                if name.as_deref().is_none_or(str::is_empty) && bytes.is_empty() {
                    continue; // the browser sends an empty part when no file was chosen
                }
                if let Err(e) = received.store(reader, name.as_deref(), &bytes).await {
                    return back(&source, Err(e));
                }
            }
            other => return back(&source, Err(format!("unexpected form field `{}`", other.unwrap_or("(unnamed)")))),
        }
    }
    if source.is_empty() {
        source = reader.name().to_string();
    }
    if !valid_source_name(&source) {
        return back(&source, Err("source: 1 to 100 letters, digits, `-`, `_` or `.`".into()));
    }
    if let Err(e) = received.complete(reader) {
        return back(&source, Err(e));
    }
    let snapshot = match received.read(reader, &source).await {
        Ok(snapshot) => snapshot,
        Err(ReadFailed::Refused(bad)) => return back(&source, Err(bad.to_string())),
        Err(ReadFailed::Crashed) => return back(&source, Err("the upload could not be read".into())),
    };
    let actor = format!("{} (#{})", user.display_name, user.app_user_id);
    match app::imports::server::apply::apply(&state.db, snapshot, &actor, &Quiet).await {
        Ok(summary) => {
            tracing::info!(source = %source, actor = %actor, format = reader.name(), grants_added = summary.grants_added, "snapshot uploaded");
            back(&source, Ok(summary.to_string()))
        }
        Err(e) => {
            tracing::error!(error = %e, source = %source, "import failed");
            back(&source, Err("the import failed; nothing was changed".into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_upload_is_shown_by_the_name_it_was_sent_with() {
        assert_eq!(shown_name("03-users.json"), "users.json");
        assert_eq!(shown_name("identities.csv"), "identities.csv");
        assert_eq!(shown_name("aws-credential-report.csv"), "aws-credential-report.csv");
    }

    #[test]
    fn formats_are_csv_by_default_or_named_as_on_the_command_line() {
        assert_eq!(Reader::parse(None), Ok(Reader::Bundle));
        assert_eq!(Reader::parse(Some("scim")), Ok(Reader::Vendor(Format::Scim)));
        assert!(Reader::parse(Some("xml")).is_err_and(|e| e.starts_with("format: unknown format `xml`")));
        assert_eq!(encode("a b/ü"), "a%20b%2F%C3%BC");
    }
}
