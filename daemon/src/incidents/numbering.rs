//! Readable incident numbers: `YYYYMMDD-NNNN`, from the centre's local date.
//!
//! The date is the centre's (not UTC): a call at 00:30 in Shanghai belongs to
//! that day, which in UTC is still the day before.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::error::{Error, Result};

/// The local day of `at` in `tz`, as `YYYYMMDD`.
pub fn local_day(at: Timestamp, tz: &TimeZone) -> String {
    let date = at.to_zoned_datetime(tz.clone()).date();
    format!("{:04}{:02}{:02}", date.year(), date.month(), date.day())
}

/// The number of the `n`th incident of `day`.
pub fn number(day: &str, n: u32) -> String {
    format!("{day}-{n:04}")
}

/// Reads an incident reference as a client wrote it: a full number
/// (`20261123-0042`) or today's short number (`0042`, `42`).
pub fn parse_ref(text: &str, now: Timestamp, tz: &TimeZone) -> Result<String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Error::invalid(
            "incident",
            "is required (a number like 20261123-0042, or 0042 for today's)",
        ));
    }
    if let Some((day, seq)) = text.split_once('-') {
        if parse_day(day).is_some() && is_seq(seq) {
            return Ok(number(day, seq.parse().unwrap_or(0)));
        }
    } else if is_seq(text) {
        return Ok(number(&local_day(now, tz), text.parse().unwrap_or(0)));
    }
    Err(Error::invalid(
        "incident",
        format!("{text:?} is not an incident number (like 20261123-0042, or 0042 for today's)"),
    ))
}

/// A day's sequence number: any number dutyd can issue (a u32 above 0),
/// however many digits it has grown to on a very long day.
fn is_seq(text: &str) -> bool {
    (1..=10).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_digit())
        && text.parse::<u32>().is_ok_and(|n| n > 0)
}

/// Reads a day as `YYYYMMDD` or `YYYY-MM-DD` and returns it as `YYYYMMDD`.
pub fn parse_day(text: &str) -> Option<String> {
    let compact: String = text.chars().filter(|c| *c != '-').collect();
    if compact.len() != 8 || !compact.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year: i16 = compact[..4].parse().ok()?;
    let month: i8 = compact[4..6].parse().ok()?;
    let day: i8 = compact[6..].parse().ok()?;
    jiff::civil::Date::new(year, month, day).ok()?;
    Some(compact)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shanghai() -> TimeZone {
        TimeZone::get("Asia/Shanghai").expect("bundled tzdb")
    }

    #[test]
    fn the_local_date_decides_the_day_not_utc() {
        // 2026-11-22 16:30 UTC is 2026-11-23 00:30 in Shanghai.
        let at: Timestamp = "2026-11-22T16:30:00Z".parse().expect("timestamp");
        assert_eq!(local_day(at, &shanghai()), "20261123");
        assert_eq!(local_day(at, &TimeZone::UTC), "20261122");
    }

    #[test]
    fn short_refs_mean_today_in_the_centres_zone() {
        let at: Timestamp = "2026-11-22T16:30:00Z".parse().expect("timestamp");
        assert_eq!(
            parse_ref("42", at, &shanghai()).expect("ok"),
            "20261123-0042"
        );
        assert_eq!(
            parse_ref("0042", at, &shanghai()).expect("ok"),
            "20261123-0042"
        );
        assert_eq!(
            parse_ref("20261101-0007", at, &shanghai()).expect("ok"),
            "20261101-0007"
        );
        assert_eq!(
            parse_ref("20261101-12345", at, &shanghai()).expect("ok"),
            "20261101-12345"
        );
    }

    #[test]
    fn every_number_dutyd_issues_reads_back() {
        let at: Timestamp = "2026-11-22T16:30:00Z".parse().expect("timestamp");
        // A day past a million calls (the bench fills one) still works.
        for n in [1, 42, 9_999, 10_000, 999_999, 1_000_000, u32::MAX] {
            let issued = number("20261123", n);
            assert_eq!(parse_ref(&issued, at, &shanghai()).expect(&issued), issued);
        }
    }

    #[test]
    fn bad_refs_say_what_a_number_looks_like() {
        let at = Timestamp::UNIX_EPOCH;
        for bad in ["", "abc", "2026-0042", "20261301-0001", "0", "20261123-"] {
            let error = parse_ref(bad, at, &shanghai()).expect_err(bad);
            assert!(error.to_string().contains("20261123-0042"), "{error}");
        }
    }

    #[test]
    fn days_in_both_spellings() {
        assert_eq!(parse_day("2026-11-23").as_deref(), Some("20261123"));
        assert_eq!(parse_day("20261123").as_deref(), Some("20261123"));
        assert_eq!(parse_day("20260230"), None);
    }
}
