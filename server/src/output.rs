//! How the CLI prints: tables for people, CSV and JSON for scripts, a progress bar on a
//! terminal.

use std::io::{IsTerminal, Write};

use app::components::thousands;
use app::identities::{GrantRow, IdentityRow};
use app::imports::server::Progress;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

fn opt(value: &Option<String>) -> String {
    value.clone().unwrap_or_default()
}

fn ts(value: Option<i64>) -> String {
    value.map(app::time_fmt::date).unwrap_or_default()
}

/// JSON as the rows serialise; CSV and tables from `header` and `line`.
fn print<T: serde::Serialize>(rows: &[T], format: Format, header: &[&str], line: impl Fn(&T) -> Vec<String>) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, rows)?;
            writeln!(out)
        }
        Format::Csv | Format::Table => {
            let lines: Vec<Vec<String>> = rows.iter().map(line).collect();
            write_rows(&mut out, header, &lines, format)
        }
    }
}

pub fn print_identities(rows: &[IdentityRow], format: Format) -> std::io::Result<()> {
    let header = [
        "identity",
        "kind",
        "display_name",
        "email",
        "status",
        "owner",
        "manager",
        "department",
        "last_active_at",
        "expires_at",
        "active_grants",
        "source",
        "risk",
    ];
    print(rows, format, &header, |r| {
        vec![
            r.external_id.clone(),
            r.kind.as_str().to_string(),
            r.display_name.clone(),
            opt(&r.email),
            r.status.as_str().to_string(),
            opt(&r.owner),
            opt(&r.manager),
            opt(&r.department),
            ts(r.last_active_at),
            ts(r.expires_at),
            r.active_grants.to_string(),
            r.source.clone(),
            r.risk_score.to_string(),
        ]
    })
}

pub const GRANT_HEADER: [&str; 10] =
    ["identity", "kind", "application", "entitlement", "privilege", "granted_at", "last_used_at", "granted_by", "risk", "factors"];

/// One grant as the cells of a listing or export.
pub fn grant_cells(g: &GrantRow) -> Vec<String> {
    vec![
        g.identity.clone(),
        g.identity_kind.as_str().to_string(),
        g.application.clone(),
        g.entitlement.clone(),
        g.privilege.as_str().to_string(),
        ts(g.granted_at),
        ts(g.last_used_at),
        opt(&g.granted_by),
        g.risk_score.to_string(),
        g.risk_words.clone(),
    ]
}

pub fn print_grants(rows: &[GrantRow], format: Format) -> std::io::Result<()> {
    print(rows, format, &GRANT_HEADER, grant_cells)
}

pub use app::evidence::server::export::spreadsheet_safe;

fn write_rows(out: &mut impl Write, header: &[&str], rows: &[Vec<String>], format: Format) -> std::io::Result<()> {
    if let Format::Csv = format {
        let mut writer = csv::Writer::from_writer(out);
        writer.write_record(header)?;
        for row in rows {
            writer.write_record(row)?;
        }
        return writer.flush();
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    let clip = |s: &str| -> String {
        if s.chars().count() > 40 { format!("{}…", s.chars().take(39).collect::<String>()) } else { s.to_string() }
    };
    let clipped: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(|c| clip(&c.replace(['\n', '\r', '\t'], " "))).collect()).collect();
    for row in &clipped {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line =
        |cells: Vec<&str>| cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect::<Vec<_>>().join("  ").trim_end().to_string();
    writeln!(out, "{}", line(header.to_vec()))?;
    for row in &clipped {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    writeln!(out, "({} rows)", thousands(rows.len() as i64))
}

/// A progress bar on stderr when it is a terminal; silent otherwise.
pub struct TerminalProgress {
    bar: Option<ProgressBar>,
}

impl TerminalProgress {
    pub fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{msg:>32} [{bar:40}] {pos}/{len} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar
        });
        TerminalProgress { bar }
    }
}

impl Default for TerminalProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress for TerminalProgress {
    fn phase(&self, name: &str, total: Option<u64>) {
        if let Some(bar) = &self.bar {
            bar.set_message(name.to_string());
            bar.set_length(total.unwrap_or(0));
            bar.set_position(0);
        }
    }
    fn set(&self, position: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(position);
        }
    }
    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
