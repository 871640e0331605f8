//! Report periods in the centre's calendar: a day, an ISO week (Monday to
//! Sunday), a month, a quarter, a year, or any span of whole days; and the
//! period before each, which reports set beside it.
//!
//! Periods are of local *dates*: which instant a day starts at (and so a
//! daylight-saving change) is settled when an incident is numbered, by the
//! day in its number, which is the day its rollups are kept under.

use jiff::Span;
use jiff::civil::Date;

use crate::error::{Error, Result};

/// The longest span of days a report covers (a little over ten years).
pub const MAX_DAYS: i32 = 3_700;

/// What kind of period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodKind {
    /// Any span of whole days.
    Span,
    /// One day.
    Day,
    /// Monday to Sunday.
    Week,
    /// A calendar month.
    Month,
    /// January–March, April–June, July–September, October–December.
    Quarter,
    /// A calendar year.
    Year,
}

/// A period: its kind and first and last local day (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// What kind.
    pub kind: PeriodKind,
    /// First day.
    pub from: Date,
    /// Last day, inclusive.
    pub to: Date,
}

fn add_days(date: Date, days: i32) -> Result<Date> {
    date.checked_add(Span::new().days(days))
        .map_err(|_| Error::invalid("from", format!("{date} ± {days} days is out of range")))
}

impl Period {
    /// The period of `kind` that holds `day`.
    pub fn holding(kind: PeriodKind, day: Date) -> Result<Period> {
        let (from, to) = match kind {
            PeriodKind::Span | PeriodKind::Day => (day, day),
            PeriodKind::Week => {
                let back = i32::from(day.weekday().to_monday_zero_offset());
                let monday = add_days(day, -back)?;
                (monday, add_days(monday, 6)?)
            }
            PeriodKind::Month => (day.first_of_month(), day.last_of_month()),
            PeriodKind::Quarter => {
                let first_month = (day.month() - 1) / 3 * 3 + 1;
                let first =
                    Date::new(day.year(), first_month, 1).map_err(|e| Error::invalid("from", e))?;
                let last = Date::new(day.year(), first_month + 2, 1)
                    .map_err(|e| Error::invalid("from", e))?
                    .last_of_month();
                (first, last)
            }
            PeriodKind::Year => (day.first_of_year(), day.last_of_year()),
        };
        Ok(Period { kind, from, to })
    }

    /// The span `from..=to`, refused when backwards or longer than
    /// [`MAX_DAYS`].
    pub fn span(from: Date, to: Date) -> Result<Period> {
        if to < from {
            return Err(Error::invalid(
                "to",
                format!("{to} is before from ({from}); give the first day, then the last"),
            ));
        }
        let period = Period {
            kind: PeriodKind::Span,
            from,
            to,
        };
        if period.days() > MAX_DAYS {
            return Err(Error::invalid(
                "to",
                format!(
                    "{from} to {to} is {} days; a report covers at most {MAX_DAYS}",
                    period.days()
                ),
            ));
        }
        Ok(period)
    }

    /// How many days it has.
    pub fn days(&self) -> i32 {
        let days = self.to.since(self.from).map_or(0, |span| span.get_days());
        days + 1
    }

    /// The period just before: the same kind's previous one, or as many
    /// days just before for a span or a day.
    pub fn previous(&self) -> Result<Period> {
        let last = add_days(self.from, -1)?;
        match self.kind {
            PeriodKind::Span => Ok(Period {
                kind: PeriodKind::Span,
                from: add_days(self.from, -self.days())?,
                to: last,
            }),
            kind => Period::holding(kind, last),
        }
    }

    /// Every day, first to last.
    pub fn each_day(&self) -> impl Iterator<Item = Date> + '_ {
        self.from
            .series(Span::new().days(1))
            .take_while(move |day| *day <= self.to)
    }

    /// How people name it: `2026-11-23`, `2026-W48`, `2026-11`, `2026-Q4`,
    /// `2026`, or `2026-11-01..2026-11-20`.
    pub fn label(&self) -> String {
        match self.kind {
            PeriodKind::Day => self.from.to_string(),
            PeriodKind::Week => {
                let week = self.from.iso_week_date();
                format!("{}-W{:02}", week.year(), week.week())
            }
            PeriodKind::Month => format!("{}-{:02}", self.from.year(), self.from.month()),
            PeriodKind::Quarter => {
                format!("{}-Q{}", self.from.year(), (self.from.month() - 1) / 3 + 1)
            }
            PeriodKind::Year => self.from.year().to_string(),
            PeriodKind::Span if self.from == self.to => self.from.to_string(),
            PeriodKind::Span => format!("{}..{}", self.from, self.to),
        }
    }
}

/// The rollup day key of `date` (`YYYYMMDD`, as incident numbers have it).
pub fn day_key(date: Date) -> String {
    format!("{:04}{:02}{:02}", date.year(), date.month(), date.day())
}

/// The date of a rollup day key, when it is one.
pub fn date_of_key(day: &str) -> Option<Date> {
    let number = |range: std::ops::Range<usize>| day.get(range)?.parse::<i16>().ok();
    let month = i8::try_from(number(4..6)?).ok()?;
    let date = i8::try_from(number(6..8)?).ok()?;
    Date::new(number(0..4)?, month, date).ok()
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    #[test]
    fn each_kind_holds_its_days_and_names_itself() {
        let leap = date(2028, 2, 29);
        let week = Period::holding(PeriodKind::Week, leap).expect("week");
        assert_eq!((week.from, week.to), (date(2028, 2, 28), date(2028, 3, 5)));
        assert_eq!(week.label(), "2028-W09");
        let month = Period::holding(PeriodKind::Month, leap).expect("month");
        assert_eq!(
            (month.from, month.to, month.days()),
            (date(2028, 2, 1), leap, 29)
        );
        let quarter = Period::holding(PeriodKind::Quarter, date(2026, 11, 15)).expect("q");
        assert_eq!(
            (quarter.from, quarter.to),
            (date(2026, 10, 1), date(2026, 12, 31))
        );
        assert_eq!(quarter.label(), "2026-Q4");
        let year = Period::holding(PeriodKind::Year, leap).expect("year");
        assert_eq!((year.days(), year.label().as_str()), (366, "2028"));
        assert_eq!(
            Period::holding(PeriodKind::Day, leap).expect("day").label(),
            "2028-02-29"
        );
    }

    #[test]
    fn the_previous_period_is_the_same_kind_just_before() {
        let march = Period::holding(PeriodKind::Month, date(2028, 3, 31)).expect("march");
        let february = march.previous().expect("february");
        assert_eq!(
            (february.from, february.to),
            (date(2028, 2, 1), date(2028, 2, 29))
        );
        let january = Period::holding(PeriodKind::Quarter, date(2027, 1, 5))
            .expect("q1")
            .previous()
            .expect("q4");
        assert_eq!(january.label(), "2026-Q4");
        // ISO week 1 of 2027 starts on Monday 4 January; the week before
        // is 2026's 53rd.
        let week = Period::holding(PeriodKind::Week, date(2027, 1, 4)).expect("w1");
        assert_eq!(week.label(), "2027-W01");
        assert_eq!(week.previous().expect("w53").label(), "2026-W53");
        let span = Period::span(date(2026, 11, 21), date(2026, 11, 30)).expect("span");
        let before = span.previous().expect("before");
        assert_eq!(
            (before.from, before.to),
            (date(2026, 11, 11), date(2026, 11, 20))
        );
        assert_eq!(span.label(), "2026-11-21..2026-11-30");
    }

    #[test]
    fn a_backwards_or_endless_span_is_refused_with_what_to_do() {
        let backwards = Period::span(date(2026, 12, 2), date(2026, 12, 1)).expect_err("refused");
        assert!(backwards.to_string().contains("before from"), "{backwards}");
        let endless = Period::span(date(2000, 1, 1), date(2026, 1, 1)).expect_err("refused");
        assert!(endless.to_string().contains("at most"), "{endless}");
    }

    #[test]
    fn day_keys_are_incident_number_days() {
        assert_eq!(day_key(date(2026, 3, 9)), "20260309");
        assert_eq!(date_of_key("20280229"), Some(date(2028, 2, 29)));
        assert_eq!(date_of_key("20270229"), None);
        assert_eq!(date_of_key("2026"), None);
        let days: Vec<_> = Period::span(date(2026, 12, 30), date(2027, 1, 2))
            .expect("span")
            .each_day()
            .map(day_key)
            .collect();
        assert_eq!(days, ["20261230", "20261231", "20270101", "20270102"]);
    }
}
