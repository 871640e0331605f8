//! Duty rosters, pure: shift patterns in the centre's time zone, the slots
//! people fill, swaps, and the answer to "who is on duty at T".
//!
//! A pattern is a day cut into shifts (one 24-hour shift from 08:00, day and
//! night, three 8-hour shifts…) that applies from a date until the next
//! pattern's date. The shift in force at any instant is the last shift that
//! started at or before it — so there is always exactly one, across
//! midnight, month ends and pattern changes alike.

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::auth::principal::Principal;
use crate::error::{Error, Result};

/// One shift of a pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShiftDef {
    /// Its name, as rosters and spreadsheets write it (e.g. `day`, `白班`).
    pub name: String,
    /// Local start time.
    pub start: Time,
    /// Length in minutes.
    pub minutes: u32,
}

/// Shifts that apply from a date on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pattern {
    /// The first local date it applies to.
    pub from: Date,
    /// Its shifts, by start time.
    pub shifts: Vec<ShiftDef>,
}

/// When roll-calls go out by themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollCallSchedule {
    /// Local times of day.
    pub times: Vec<Time>,
    /// How long posts have to answer.
    pub answer_within: SignedDuration,
}

/// The roster's shape: patterns over time, and the roll-call schedule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterConfig {
    /// By `from`, oldest first.
    pub patterns: Vec<Pattern>,
    /// Scheduled roll-calls, if any.
    pub rollcall: Option<RollCallSchedule>,
}

/// Whose duty: the centre's, or a post's.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Scope {
    /// The command centre.
    Centre,
    /// A sub-district post.
    Post(String),
}

impl Scope {
    /// `centre` or `post:xinhua`.
    pub fn key(&self) -> String {
        match self {
            Scope::Centre => "centre".into(),
            Scope::Post(id) => format!("post:{id}"),
        }
    }

    /// Reads `centre` / `post:ID` / a bare post id.
    pub fn parse(text: &str) -> Result<Scope> {
        match text.trim() {
            "" | "centre" | "center" | "中心" => Ok(Scope::Centre),
            text => {
                let id = text.strip_prefix("post:").unwrap_or(text);
                crate::validate::slug("post", id)?;
                Ok(Scope::Post(id.to_owned()))
            }
        }
    }
}

/// A duty role on a shift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum DutyRole {
    /// The centre's duty officer (值班员); there may be several.
    DutyOfficer,
    /// The centre's duty leader (带班领导).
    DutyLeader,
    /// A post's duty contact (值守).
    DutyContact,
}

impl DutyRole {
    /// As written in rosters.
    pub fn name(self) -> &'static str {
        match self {
            DutyRole::DutyOfficer => "duty_officer",
            DutyRole::DutyLeader => "duty_leader",
            DutyRole::DutyContact => "duty_contact",
        }
    }

    /// Reads a role name.
    pub fn parse(text: &str) -> Result<DutyRole> {
        match text.trim() {
            "duty_officer" | "officer" | "值班员" => Ok(DutyRole::DutyOfficer),
            "duty_leader" | "leader" | "带班领导" => Ok(DutyRole::DutyLeader),
            "duty_contact" | "contact" | "值守" => Ok(DutyRole::DutyContact),
            other => Err(Error::invalid(
                "role",
                format!(
                    "{other:?} is not a duty role: use duty_officer, duty_leader or duty_contact"
                ),
            )),
        }
    }

    /// The roles a scope must have filled on every shift.
    pub fn required(scope: &Scope) -> &'static [DutyRole] {
        match scope {
            Scope::Centre => &[DutyRole::DutyOfficer, DutyRole::DutyLeader],
            Scope::Post(_) => &[DutyRole::DutyContact],
        }
    }

    /// Does this role belong to this scope?
    pub fn fits(self, scope: &Scope) -> bool {
        DutyRole::required(scope).contains(&self)
    }
}

/// One occurrence of a shift: the date it starts on and its name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ShiftId {
    /// Local date the shift starts on.
    pub date: Date,
    /// The shift's name in the pattern of that date.
    pub shift: String,
}

/// A shift occurrence with its instants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Occurrence {
    /// Which.
    pub id: ShiftId,
    /// When it starts.
    pub start: Timestamp,
    /// When the next shift starts (its end).
    pub end: Timestamp,
}

/// Checks a pattern: 1–6 shifts with distinct names, each 1 to 24 hours,
/// together tiling one day exactly (each starts where the previous ends).
pub fn validate_pattern(pattern: &Pattern) -> Result<()> {
    if pattern.shifts.is_empty() || pattern.shifts.len() > 6 {
        return Err(Error::invalid("shifts", "a pattern has 1 to 6 shifts"));
    }
    let mut shifts = pattern.shifts.clone();
    shifts.sort_by_key(|s| s.start);
    for (index, shift) in shifts.iter().enumerate() {
        crate::validate::required(&format!("shifts[{index}].name"), &shift.name, 20)?;
        if shift.name.contains(',') || shift.name.contains('/') {
            return Err(Error::invalid(
                &format!("shifts[{index}].name"),
                "may not contain ',' or '/'",
            ));
        }
        if shifts.iter().filter(|s| s.name == shift.name).count() > 1 {
            return Err(Error::invalid(
                "shifts",
                format!("two shifts are called {:?}", shift.name),
            ));
        }
        if !(60..=24 * 60).contains(&shift.minutes) {
            return Err(Error::invalid(
                &format!("shifts[{index}].minutes"),
                "a shift lasts 1 to 24 hours",
            ));
        }
    }
    let total: u32 = shifts.iter().map(|s| s.minutes).sum();
    if total != 24 * 60 {
        return Err(Error::invalid(
            "shifts",
            format!(
                "the shifts must cover one day exactly (24h), they cover {}h{:02}",
                total / 60,
                total % 60
            ),
        ));
    }
    let minute = |t: Time| i32::from(t.hour()) * 60 + i32::from(t.minute());
    for pair in 0..shifts.len() {
        let this = &shifts[pair];
        let next = &shifts[(pair + 1) % shifts.len()];
        let end = (minute(this.start) + this.minutes as i32) % (24 * 60);
        if end != minute(next.start) {
            return Err(Error::invalid(
                "shifts",
                format!(
                    "{:?} ends at {:02}:{:02} but the next shift {:?} starts at {}: shifts must follow each other",
                    this.name,
                    end / 60,
                    end % 60,
                    next.name,
                    next.start.strftime("%H:%M")
                ),
            ));
        }
    }
    Ok(())
}

impl RosterConfig {
    /// The pattern in force on a local date.
    pub fn pattern_on(&self, date: Date) -> Option<&Pattern> {
        self.patterns.iter().rev().find(|p| p.from <= date)
    }

    /// When a shift of `date` starts, as an instant.
    fn start_of(date: Date, shift: &ShiftDef, tz: &TimeZone) -> Timestamp {
        let civil: DateTime = date.to_datetime(shift.start);
        civil
            .to_zoned_datetime(tz.clone())
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::UNIX_EPOCH)
    }

    /// The shifts that start on `date`, in order.
    pub fn starts_on(&self, date: Date, tz: &TimeZone) -> Vec<(ShiftId, Timestamp)> {
        let Some(pattern) = self.pattern_on(date) else {
            return Vec::new();
        };
        let mut starts: Vec<(ShiftId, Timestamp)> = pattern
            .shifts
            .iter()
            .map(|s| {
                (
                    ShiftId {
                        date,
                        shift: s.name.clone(),
                    },
                    Self::start_of(date, s, tz),
                )
            })
            .collect();
        starts.sort_by_key(|(_, at)| *at);
        starts
    }

    /// Shift starts from the day before `from` to the day after `to`, in order.
    fn starts_between(&self, from: Date, to: Date, tz: &TimeZone) -> Vec<(ShiftId, Timestamp)> {
        let mut starts = Vec::new();
        let mut date = from.yesterday().unwrap_or(from);
        let last = to.tomorrow().unwrap_or(to);
        while date <= last {
            starts.extend(self.starts_on(date, tz));
            match date.tomorrow() {
                Ok(next) => date = next,
                Err(_) => break,
            }
        }
        starts.sort_by_key(|(_, at)| *at);
        starts
    }

    /// The shift in force at `at`: the last one that started at or before it.
    pub fn occurrence_at(&self, at: Timestamp, tz: &TimeZone) -> Option<Occurrence> {
        let date = at.to_zoned_datetime(tz.clone()).date();
        let starts = self.starts_between(date.yesterday().unwrap_or(date), date, tz);
        let index = starts.iter().rposition(|(_, start)| *start <= at)?;
        let (id, start) = starts[index].clone();
        let end = starts
            .get(index + 1)
            .map(|(_, next)| *next)
            .unwrap_or(start + SignedDuration::from_hours(24));
        Some(Occurrence { id, start, end })
    }

    /// The shift after the one in force at `at`.
    pub fn next_after(&self, at: Timestamp, tz: &TimeZone) -> Option<Occurrence> {
        let current = self.occurrence_at(at, tz)?;
        self.occurrence_at(current.end, tz)
    }

    /// Every occurrence starting on the `days` dates from `from`.
    pub fn occurrences(&self, from: Date, days: u32, tz: &TimeZone) -> Vec<Occurrence> {
        let to = from
            .checked_add(jiff::Span::new().days(i64::from(days.max(1)) - 1))
            .unwrap_or(from);
        let starts = self.starts_between(from, to, tz);
        starts
            .iter()
            .enumerate()
            .filter(|(_, (id, _))| id.date >= from && id.date <= to)
            .map(|(index, (id, start))| Occurrence {
                id: id.clone(),
                start: *start,
                end: starts
                    .get(index + 1)
                    .map(|(_, next)| *next)
                    .unwrap_or(*start + SignedDuration::from_hours(24)),
            })
            .collect()
    }

    /// The occurrence named by a date and shift, if that shift exists then.
    pub fn occurrence(&self, id: &ShiftId, tz: &TimeZone) -> Result<Occurrence> {
        let known = self.occurrences(id.date, 1, tz);
        known.into_iter().find(|o| o.id == *id).ok_or_else(|| {
            let names: Vec<String> = self
                .pattern_on(id.date)
                .map(|p| p.shifts.iter().map(|s| s.name.clone()).collect())
                .unwrap_or_default();
            if names.is_empty() {
                Error::precondition(format!(
                    "no shift pattern applies on {}: set one first (duty roster pattern)",
                    id.date
                ))
            } else {
                Error::invalid(
                    "shift",
                    format!(
                        "{} has no shift {:?}; its shifts are {}",
                        id.date,
                        id.shift,
                        names.join(", ")
                    ),
                )
            }
        })
    }
}

/// One person standing in for another, for a whole shift or part of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Swap {
    /// Who is replaced.
    pub replaced: String,
    /// Who stands in.
    pub by: String,
    /// From when (the shift's start when absent).
    pub from: Option<Timestamp>,
    /// Until when (the shift's end when absent).
    pub until: Option<Timestamp>,
    /// Who asked for it.
    pub asked_by: Option<String>,
    /// Who approved it.
    pub approved_by: Option<String>,
    /// Why.
    pub reason: String,
    /// Who recorded it, and when.
    pub recorded_by: Principal,
    /// When it was recorded.
    pub recorded_at: Timestamp,
}

/// Who fills a role on a shift, with the swaps recorded against it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    /// As planned.
    pub people: Vec<String>,
    /// Swaps, in the order recorded.
    pub swaps: Vec<Swap>,
}

impl Slot {
    /// Who is actually on duty at `at` (swaps applied in order).
    pub fn effective(&self, at: Timestamp) -> Vec<String> {
        let mut people = self.people.clone();
        for swap in &self.swaps {
            let active = swap.from.is_none_or(|from| from <= at)
                && swap.until.is_none_or(|until| at < until);
            if !active {
                continue;
            }
            for person in &mut people {
                if *person == swap.replaced {
                    person.clone_from(&swap.by);
                }
            }
        }
        people.dedup();
        people
    }

    /// Everyone who is on duty at some point of the shift.
    pub fn everyone(&self) -> Vec<String> {
        let mut people = self.people.clone();
        for swap in &self.swaps {
            if !people.contains(&swap.by) {
                people.push(swap.by.clone());
            }
        }
        people
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn shanghai() -> TimeZone {
        TimeZone::get("Asia/Shanghai").expect("zone")
    }

    fn shift(name: &str, hour: i8, hours: u32) -> ShiftDef {
        ShiftDef {
            name: name.into(),
            start: Time::constant(hour, 0, 0, 0),
            minutes: hours * 60,
        }
    }

    fn day(y: i16, m: i8, d: i8) -> Date {
        Date::new(y, m, d).expect("date")
    }

    fn config() -> RosterConfig {
        RosterConfig {
            patterns: vec![
                Pattern {
                    from: day(2026, 1, 1),
                    shifts: vec![shift("全天", 8, 24)],
                },
                Pattern {
                    from: day(2026, 12, 1),
                    shifts: vec![shift("day", 8, 12), shift("night", 20, 12)],
                },
                Pattern {
                    from: day(2027, 2, 27),
                    shifts: vec![shift("a", 0, 8), shift("b", 8, 8), shift("c", 16, 8)],
                },
            ],
            rollcall: None,
        }
    }

    fn at(text: &str) -> Timestamp {
        text.parse::<jiff::civil::DateTime>()
            .expect("civil")
            .to_zoned_datetime(shanghai())
            .expect("zoned")
            .timestamp()
    }

    #[test]
    fn patterns_must_tile_a_day() {
        assert!(validate_pattern(&config().patterns[1]).is_ok());
        let gap = Pattern {
            from: day(2026, 1, 1),
            shifts: vec![shift("day", 8, 12), shift("night", 21, 12)],
        };
        let error = validate_pattern(&gap).expect_err("gap");
        assert!(
            error.to_string().contains("\"day\" ends at 20:00"),
            "{error}"
        );
        let short = Pattern {
            from: day(2026, 1, 1),
            shifts: vec![shift("day", 8, 12)],
        };
        assert!(
            validate_pattern(&short)
                .expect_err("12h")
                .to_string()
                .contains("24h")
        );
    }

    #[test]
    fn a_24_hour_shift_spans_midnight() {
        let config = config();
        let tz = shanghai();
        let early = config
            .occurrence_at(at("2026-11-23T07:59"), &tz)
            .expect("shift");
        assert_eq!(
            early.id.date,
            day(2026, 11, 22),
            "before 08:00 is yesterday's shift"
        );
        let late = config
            .occurrence_at(at("2026-11-23T23:30"), &tz)
            .expect("shift");
        assert_eq!(
            late.id,
            ShiftId {
                date: day(2026, 11, 23),
                shift: "全天".into()
            }
        );
        assert_eq!(late.end, at("2026-11-24T08:00"));
    }

    #[test]
    fn month_ends_and_pattern_changes() {
        let config = config();
        let tz = shanghai();
        // 30 Nov 2026 is the last 24-hour shift; it ends when the day shift
        // of the new pattern starts on 1 Dec.
        let last = config
            .occurrence_at(at("2026-12-01T03:00"), &tz)
            .expect("shift");
        assert_eq!(
            last.id,
            ShiftId {
                date: day(2026, 11, 30),
                shift: "全天".into()
            }
        );
        assert_eq!(last.end, at("2026-12-01T08:00"));
        let night = config
            .occurrence_at(at("2027-01-01T02:00"), &tz)
            .expect("shift");
        assert_eq!(
            night.id,
            ShiftId {
                date: day(2026, 12, 31),
                shift: "night".into()
            }
        );
        // 28 Feb 2027 ends the month; three shifts from 27 Feb on.
        let c = config
            .occurrence_at(at("2027-02-28T23:59"), &tz)
            .expect("shift");
        assert_eq!(
            c.id,
            ShiftId {
                date: day(2027, 2, 28),
                shift: "c".into()
            }
        );
        assert_eq!(c.end, at("2027-03-01T00:00"));
        // On the change day, the old night shift (from 20:00 on the 26th)
        // runs until the new pattern's first shift at 00:00.
        let handover = config
            .occurrence_at(at("2027-02-26T23:00"), &tz)
            .expect("shift");
        assert_eq!(handover.id.shift, "night");
        assert_eq!(handover.end, at("2027-02-27T00:00"));
        assert_eq!(
            config
                .next_after(at("2027-02-26T23:00"), &tz)
                .expect("next")
                .id,
            ShiftId {
                date: day(2027, 2, 27),
                shift: "a".into()
            }
        );
    }

    #[test]
    fn swaps_replace_for_their_window() {
        let slot = Slot {
            people: vec!["wangwei".into(), "lina".into()],
            swaps: vec![Swap {
                replaced: "wangwei".into(),
                by: "zhaolei".into(),
                from: Some(at("2026-11-23T12:00")),
                until: Some(at("2026-11-23T18:00")),
                asked_by: Some("wangwei".into()),
                approved_by: Some("zhangqiang".into()),
                reason: "家中有事".into(),
                recorded_by: Principal::system(),
                recorded_at: Timestamp::UNIX_EPOCH,
            }],
        };
        assert_eq!(
            slot.effective(at("2026-11-23T09:00")),
            vec!["wangwei", "lina"]
        );
        assert_eq!(
            slot.effective(at("2026-11-23T13:00")),
            vec!["zhaolei", "lina"]
        );
        assert_eq!(
            slot.effective(at("2026-11-23T18:00")),
            vec!["wangwei", "lina"]
        );
        assert_eq!(slot.everyone(), vec!["wangwei", "lina", "zhaolei"]);
    }

    proptest! {
        #[test]
        fn exactly_one_shift_is_in_force_and_it_started_last(minutes in 0i64..(24 * 60 * 500)) {
            let config = config();
            let tz = shanghai();
            let t = at("2026-10-01T00:00") + SignedDuration::from_mins(minutes);
            let now = config.occurrence_at(t, &tz).expect("always a shift");
            prop_assert!(now.start <= t && t < now.end, "{now:?} does not contain {t}");
            // The next shift starts exactly when this one ends.
            let next = config.next_after(t, &tz).expect("next");
            prop_assert_eq!(next.start, now.end);
            // A moment before its end it is still in force.
            let before_end = now.end - SignedDuration::from_secs(1);
            prop_assert_eq!(config.occurrence_at(before_end, &tz).expect("shift").id, now.id.clone());
            // The occurrences listed for its date include it.
            let listed = config.occurrences(now.id.date, 1, &tz);
            prop_assert!(listed.iter().any(|o| o.id == now.id && o.start == now.start));
        }
    }
}
