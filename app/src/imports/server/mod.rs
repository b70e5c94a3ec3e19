//! Parsing sources into a [`model::Snapshot`] and applying it.

pub mod apply;
pub mod csv_bundle;
pub mod dates;
pub mod formats;
pub mod model;

/// The peak memory so far of process `pid` (`self` for this one), in KiB, as Linux keeps it
/// (`VmHWM`); `None` where it cannot be read. Shown in an import's step log, and read by the
/// bench for the processes it starts.
pub fn peak_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| line.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Told how far an import has come; the CLI draws a progress bar with it.
pub trait Progress: Send + Sync {
    fn phase(&self, _name: &str, _total: Option<u64>) {}
    fn set(&self, _position: u64) {}
    fn finish(&self) {}
}

/// Reports nothing.
pub struct Quiet;
impl Progress for Quiet {}

/// One thing wrong with the input, named by file, line and field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: Option<u64>,
    pub field: Option<String>,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ", field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Input that was refused. Nothing was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadInput {
    /// The first problems found, in file order (at most [`BadInput::SHOWN`]).
    pub problems: Vec<Problem>,
    /// How many rows had a problem in all.
    pub rejected: u64,
}

impl BadInput {
    pub const SHOWN: usize = 50;

    pub fn one(problem: Problem) -> Self {
        BadInput { problems: vec![problem], rejected: 1 }
    }
}

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "import refused, nothing was changed ({} rejected):", self.rejected)?;
        for problem in &self.problems {
            write!(f, "\n  {problem}")?;
        }
        if self.rejected as usize > self.problems.len() {
            write!(f, "\n  … and {} more", self.rejected as usize - self.problems.len())?;
        }
        Ok(())
    }
}

impl std::error::Error for BadInput {}
