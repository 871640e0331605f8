//! How urgent each incident is: its next clock, the countdown's colour, the
//! board's order, and the situation strip's counts. Pure; `now` is given.

use dutyroom_proto::v1 as pb;
use jiff::{SignedDuration, Timestamp};

use crate::tui::model::{Model, is_open};

/// Time on the wire to a timestamp (epoch when absent).
pub fn ts(value: Option<&prost_types::Timestamp>) -> Timestamp {
    value
        .and_then(|t| Timestamp::new(t.seconds, t.nanos).ok())
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The clock that runs out first, and how long is left (negative: overdue).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Countdown {
    /// Sign-for, arrival or resolution.
    pub kind: pb::ClockKind,
    /// Time left; negative when overdue.
    pub left: SignedDuration,
    /// The clock's whole length.
    pub length: SignedDuration,
}

/// Calm, getting close, or overdue. Colour is never the only signal: views
/// also print the sign of the countdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Urgency {
    /// Plenty of time.
    Calm,
    /// Under a quarter of the clock (or a minute) left.
    Amber,
    /// Overdue.
    Red,
}

/// The soonest clock of an incident.
pub fn countdown(incident: &pb::Incident, now: Timestamp) -> Option<Countdown> {
    countdown_of(incident, now, None)
}

/// The soonest clock that is `own`'s to beat: its assignment's sign-for and
/// arrival, and the resolution when it leads. Everything for the centre.
pub fn countdown_of(
    incident: &pb::Incident,
    now: Timestamp,
    own: Option<&str>,
) -> Option<Countdown> {
    let mine = own.and_then(|own| crate::tui::model::mine(incident, own));
    if own.is_some() && mine.is_none() {
        return None;
    }
    incident
        .clocks
        .iter()
        .filter(|clock| match mine {
            None => true,
            Some(mine) => {
                clock.assignment_id == mine.id
                    || (clock.assignment_id == 0 && mine.role == pb::AssignmentRole::Lead as i32)
            }
        })
        .map(|clock| {
            let due = ts(clock.due.as_ref());
            let started = ts(clock.started_at.as_ref());
            Countdown {
                kind: pb::ClockKind::try_from(clock.kind).unwrap_or(pb::ClockKind::Unspecified),
                left: due.duration_since(now),
                length: due.duration_since(started),
            }
        })
        .min_by_key(|c| c.left)
}

impl Countdown {
    /// How it should look.
    pub fn urgency(&self) -> Urgency {
        if self.left.is_negative() {
            return Urgency::Red;
        }
        let quarter = self.length / 4;
        if self.left <= quarter.max(SignedDuration::from_mins(1)) {
            Urgency::Amber
        } else {
            Urgency::Calm
        }
    }

    /// `4:59` (minutes:seconds), `23h45` past an hour, or with a `+` when
    /// overdue (`+0:42`).
    pub fn text(&self) -> String {
        let overdue = self.left.is_negative();
        let secs = self.left.as_secs().unsigned_abs();
        let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
        let sign = if overdue { "+" } else { "" };
        if h > 0 {
            format!("{sign}{h}h{m:02}")
        } else {
            format!("{sign}{m}:{s:02}")
        }
    }
}

/// Age as `3m`, `2h`, `4d`.
pub fn age(since: Timestamp, now: Timestamp) -> String {
    let secs = now.duration_since(since).as_secs().max(0);
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}

/// The board's order: open before resolved; then severity (I first); then
/// the nearest deadline; then the oldest.
pub fn order_key(incident: &pb::Incident, now: Timestamp) -> (bool, i32, i64, u64) {
    let resolved = !is_open(incident.status);
    let severity = if incident.severity == 0 {
        9
    } else {
        incident.severity
    };
    let next = countdown(incident, now).map_or(i64::MAX, |c| c.left.as_secs());
    (resolved, severity, next, incident.id)
}

/// Does the incident have a clock past its deadline?
pub fn overdue(incident: &pb::Incident, now: Timestamp) -> bool {
    countdown(incident, now).is_some_and(|c| c.left.is_negative())
}

/// Does any assignment wait for its sign-for?
pub fn unsigned(incident: &pb::Incident) -> bool {
    incident
        .assignments
        .iter()
        .any(|a| a.state == pb::AssignmentState::Dispatched as i32)
}

/// The situation strip.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Situation {
    /// Open incidents.
    pub open: usize,
    /// Incidents with a dispatch not yet signed for.
    pub unsigned: usize,
    /// Incidents with someone on scene.
    pub on_scene: usize,
    /// Incidents with a clock past its deadline.
    pub overdue: usize,
    /// Alarms waiting for acknowledgement.
    pub alarms: usize,
    /// Posts in emergency mode.
    pub emergency: usize,
}

/// Counts for the strip; a post's console counts its own orders and clocks
/// and its own mode.
pub fn situation(model: &Model, now: Timestamp) -> Situation {
    if let Some(own) = model.own.as_deref() {
        let id = own.trim_start_matches("post:");
        let mut counts = Situation {
            alarms: model.alarms.len(),
            emergency: usize::from(
                model
                    .posts
                    .get(id)
                    .is_some_and(|p| p.mode == pb::PostMode::Emergency as i32),
            ),
            ..Situation::default()
        };
        // Orders the post sent back are not its own any more (nor on its
        // board): they do not count.
        for incident in model
            .incidents
            .values()
            .filter(|i| is_open(i.status) && !crate::tui::model::only_ended_for(i, own))
        {
            counts.open += 1;
            counts.unsigned +=
                usize::from(crate::tui::model::unsigned_for(incident, own).is_some());
            counts.on_scene += usize::from(incident.status == pb::IncidentStatus::OnScene as i32);
            counts.overdue += usize::from(
                countdown_of(incident, now, Some(own)).is_some_and(|c| c.left.is_negative()),
            );
        }
        return counts;
    }
    let mut counts = Situation {
        alarms: model.alarms.len(),
        emergency: model
            .posts
            .values()
            .filter(|p| !p.retired && p.mode == pb::PostMode::Emergency as i32)
            .count(),
        ..Situation::default()
    };
    for incident in model.incidents.values().filter(|i| is_open(i.status)) {
        counts.open += 1;
        counts.unsigned += usize::from(unsigned(incident));
        counts.on_scene += usize::from(incident.status == pb::IncidentStatus::OnScene as i32);
        counts.overdue += usize::from(overdue(incident, now));
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(started: i64, due: i64) -> pb::Clock {
        pb::Clock {
            kind: pb::ClockKind::SignFor as i32,
            started_at: Some(prost_types::Timestamp {
                seconds: started,
                nanos: 0,
            }),
            due: Some(prost_types::Timestamp {
                seconds: due,
                nanos: 0,
            }),
            ..Default::default()
        }
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).expect("ts")
    }

    #[test]
    fn countdowns_turn_amber_then_red_and_say_so_in_text() {
        let incident = pb::Incident {
            clocks: vec![clock(0, 600), clock(0, 3600)],
            ..Default::default()
        };
        let calm = countdown(&incident, at(100)).expect("clock");
        assert_eq!(
            (calm.urgency(), calm.text()),
            (Urgency::Calm, "8:20".into())
        );
        let amber = countdown(&incident, at(500)).expect("clock");
        assert_eq!(
            (amber.urgency(), amber.text()),
            (Urgency::Amber, "1:40".into())
        );
        let red = countdown(&incident, at(642)).expect("clock");
        assert_eq!((red.urgency(), red.text()), (Urgency::Red, "+0:42".into()));
        let long = countdown(
            &pb::Incident {
                clocks: vec![clock(0, 14_400)],
                ..Default::default()
            },
            at(0),
        )
        .expect("clock");
        assert_eq!(long.text(), "4h00");
    }

    #[test]
    fn the_board_puts_severity_then_the_nearest_deadline_first() {
        let make =
            |id: u64, severity: pb::Severity, due: i64, status: pb::IncidentStatus| pb::Incident {
                id,
                severity: severity as i32,
                status: status as i32,
                clocks: vec![clock(0, due)],
                ..Default::default()
            };
        let mut incidents = [
            make(1, pb::Severity::Iii, 100, pb::IncidentStatus::Dispatched),
            make(2, pb::Severity::I, 900, pb::IncidentStatus::Dispatched),
            make(3, pb::Severity::Iii, 50, pb::IncidentStatus::Dispatched),
            make(4, pb::Severity::I, 10, pb::IncidentStatus::Resolved),
        ];
        incidents.sort_by_key(|i| order_key(i, at(0)));
        let ids: Vec<u64> = incidents.iter().map(|i| i.id).collect();
        assert_eq!(ids, vec![2, 3, 1, 4]);
    }
}
