//! Timestamps as sources write them, to unix seconds in UTC.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

/// RFC 3339 (`2024-03-01T12:00:00Z`, `…+02:00`, fractional seconds) or a plain `2024-03-01`
/// (midnight UTC). Anything else is refused with what was expected; nothing is guessed.
pub fn parse_timestamp(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(at.unix_timestamp());
    }
    if let Ok(date) = Date::parse(text, format_description!("[year]-[month]-[day]")) {
        return Ok(date.midnight().assume_utc().unix_timestamp());
    }
    Err(format!("`{text}` is not a date (expected RFC 3339 like 2024-03-01T12:00:00Z, or 2024-03-01)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_and_plain_dates_are_read_in_utc() {
        assert_eq!(parse_timestamp("1970-01-02"), Ok(86_400));
        assert_eq!(parse_timestamp("1970-01-01T01:00:00Z"), Ok(3_600));
        assert_eq!(parse_timestamp("1970-01-01T02:00:00+01:00"), Ok(3_600));
        assert_eq!(parse_timestamp("1970-01-01T01:00:00.750Z"), Ok(3_600));
    }

    #[test]
    fn impossible_or_ambiguous_dates_are_refused() {
        for bad in ["2024-02-30", "01/02/2024", "yesterday", "2024-13-01", ""] {
            let err = parse_timestamp(bad).unwrap_err();
            assert!(err.contains("is not a date"), "{bad}: {err}");
        }
    }
}
