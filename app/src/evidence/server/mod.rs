pub mod exceptions;
pub mod export;
pub mod remediation;
pub mod report;
