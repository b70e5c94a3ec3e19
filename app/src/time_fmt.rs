/// Seconds in a day, for turning timestamps into the day counts people read.
pub const DAY: i64 = 86_400;

/// `2026-03-01` for a unix timestamp, in UTC.
pub fn date(ts: i64) -> String {
    let days = ts.div_euclid(DAY);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// "today", "1 day ago", "212 days ago", "in 5 days".
pub fn relative(ts: i64, now: i64) -> String {
    let days = (now - ts).div_euclid(DAY);
    match days {
        0 => "today".to_string(),
        1 => "1 day ago".to_string(),
        d if d > 1 => format!("{d} days ago"),
        -1 => "in 1 day".to_string(),
        d => format!("in {} days", -d),
    }
}

/// Days since the epoch to a proleptic Gregorian date (Howard Hinnant's algorithm), so the
/// browser build needs no date library.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_printed_in_utc_as_year_month_day() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(1_709_251_200), "2024-03-01");
        assert_eq!(date(951_782_400), "2000-02-29");
        assert_eq!(date(-86_400), "1969-12-31");
    }

    #[test]
    fn relative_times_read_as_days() {
        let now = 1_000 * DAY;
        assert_eq!(relative(now, now), "today");
        assert_eq!(relative(now - DAY, now), "1 day ago");
        assert_eq!(relative(now - 212 * DAY, now), "212 days ago");
        assert_eq!(relative(now + 5 * DAY, now), "in 5 days");
    }
}
