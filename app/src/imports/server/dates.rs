//! Timestamps as sources write them, to unix seconds in UTC.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

/// RFC 3339 (`2024-03-01T12:00:00Z`, `…+02:00`, fractional seconds) or a plain `2024-03-01`
/// (midnight UTC). Anything else is refused with what was expected; nothing is guessed.
///
/// One-digit offset hours (`…T00:00:00-8:00`) are read as `-08:00`: Microsoft Graph writes them
/// so, and they cannot mean anything else.
pub fn parse_timestamp(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(at.unix_timestamp());
    }
    if let Some(padded) = pad_offset_hour(text)
        && let Ok(at) = OffsetDateTime::parse(&padded, &Rfc3339)
    {
        return Ok(at.unix_timestamp());
    }
    if let Ok(date) = Date::parse(text, format_description!("[year]-[month]-[day]")) {
        return Ok(date.midnight().assume_utc().unix_timestamp());
    }
    Err(format!("`{text}` is not a date (expected RFC 3339 like 2024-03-01T12:00:00Z, or 2024-03-01)"))
}

/// `…T00:00:00-8:00` → `…T00:00:00-08:00`; `None` when the text does not end that way.
fn pad_offset_hour(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let n = bytes.len();
    if n < 16 || !text.contains('T') {
        return None;
    }
    let tail = &bytes[n - 5..];
    let shape = matches!(tail[0], b'+' | b'-') && tail[1].is_ascii_digit() && tail[2] == b':' && tail[3..].iter().all(u8::is_ascii_digit);
    shape.then(|| format!("{}{}0{}", &text[..n - 5], tail[0] as char, &text[n - 4..]))
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
    fn graph_offsets_with_one_digit_hours_are_read_as_two() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00-8:00"), Ok(8 * 3_600));
        assert_eq!(parse_timestamp("1970-01-01T10:00:00+9:30"), Ok(1_800));
        assert_eq!(parse_timestamp("2021-03-01T00:00:00-8:00"), parse_timestamp("2021-03-01T08:00:00Z"));
        for bad in ["1970-01-01T00:00:00-8:0", "1970-01-01T00:00:00-8", "1970-01-01T00:00:00*8:00", "x-8:00"] {
            assert!(parse_timestamp(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn impossible_or_ambiguous_dates_are_refused() {
        for bad in ["2024-02-30", "01/02/2024", "yesterday", "2024-13-01", ""] {
            let err = parse_timestamp(bad).unwrap_err();
            assert!(err.contains("is not a date"), "{bad}: {err}");
        }
    }
}
