//! `duty report incidents`: each incident's own measures as table cells
//! (times people read: `40s`, `12m05s 迟`) or CSV (raw seconds and flags).

use dutyroom_proto::v1 as pb;
use jiff::tz::TimeZone;

use super::duration;

const SIGN_FOR: i32 = pb::ClockKind::SignFor as i32;
const ARRIVE: i32 = pb::ClockKind::Arrive as i32;
const RESOLVE: i32 = pb::ClockKind::Resolve as i32;

/// The clock of `kind` that counts for the row: the lead's last one done,
/// else its last one, else any last one of that kind.
fn clock_of(row: &pb::IncidentMeasures, kind: i32) -> Option<&pb::StoppedClockMeasure> {
    let of_kind = || row.clocks.iter().rev().filter(move |c| c.kind == kind);
    let lead = |c: &&pb::StoppedClockMeasure| kind == RESOLVE || c.assignee == row.lead;
    of_kind()
        .filter(lead)
        .find(|c| c.done)
        .or_else(|| of_kind().find(lead))
        .or_else(|| of_kind().next())
}

/// A stopped clock for a table: `40s`, `12m05s late`, `sent back (overdue)`;
/// empty when it has none.
pub fn clock_cell(clock: Option<&pb::StoppedClockMeasure>, late: &str, undone: &str) -> String {
    match clock {
        None => String::new(),
        Some(c) if c.done && c.in_time => duration(c.seconds),
        Some(c) if c.done => format!("{} {late}", duration(c.seconds)),
        Some(c) if c.alarms > 0 => format!("{undone} ({late})"),
        Some(_) => undone.to_owned(),
    }
}

/// The table's header.
pub fn header() -> Vec<String> {
    [
        "number",
        "received",
        "category",
        "sev",
        "source",
        "place",
        "lead",
        "status",
        "sign for",
        "arrive",
        "resolve",
        "sent back",
        "level",
        "callback",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

/// One incident as table cells, times in `zone`.
pub fn row(m: &pb::IncidentMeasures, zone: &TimeZone) -> Vec<String> {
    let received = m
        .received_at
        .as_ref()
        .and_then(|t| jiff::Timestamp::new(t.seconds, t.nanos).ok())
        .map(|t| {
            t.to_zoned_datetime(zone.clone())
                .strftime("%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default();
    let number = if m.drill {
        format!("{} [演练]", m.number)
    } else {
        m.number.clone()
    };
    vec![
        number,
        received,
        m.category.clone(),
        crate::cli::output::severity(m.severity).to_owned(),
        m.source.clone(),
        m.place_id.clone(),
        m.lead.clone(),
        m.status.clone(),
        clock_cell(clock_of(m, SIGN_FOR), "late", "not signed"),
        clock_cell(clock_of(m, ARRIVE), "late", "not arrived"),
        clock_cell(clock_of(m, RESOLVE), "late", "not resolved"),
        if m.sent_back == 0 {
            String::new()
        } else {
            format!("{} ({})", m.sent_back, m.sent_back_reasons.join("; "))
        },
        if m.escalation_level == 0 {
            String::new()
        } else {
            m.escalation_level.to_string()
        },
        match (m.called_back, m.satisfaction) {
            (false, _) => String::new(),
            (true, 0) => "called back".into(),
            (true, n) => format!("{n}/5"),
        },
    ]
}

/// The CSV header: raw figures, one column each.
pub fn csv_header() -> Vec<String> {
    let mut header: Vec<String> = [
        "number",
        "received_at",
        "drill",
        "category",
        "severity",
        "source",
        "place",
        "lead",
        "status",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for measure in ["sign_for", "arrive", "resolve"] {
        for column in ["seconds", "in_time", "alarms"] {
            header.push(format!("{measure}_{column}"));
        }
    }
    header.extend(
        [
            "orders",
            "sent_back",
            "sent_back_reasons",
            "escalation_level",
            "called_back",
            "satisfaction",
        ]
        .iter()
        .map(|s| (*s).to_owned()),
    );
    header
}

/// One incident as raw CSV cells (a clock not done: empty seconds).
pub fn csv_row(m: &pb::IncidentMeasures) -> Vec<String> {
    let received = m
        .received_at
        .as_ref()
        .and_then(|t| jiff::Timestamp::new(t.seconds, t.nanos).ok())
        .map(|t| t.to_string())
        .unwrap_or_default();
    let mut row = vec![
        m.number.clone(),
        received,
        m.drill.to_string(),
        m.category.clone(),
        m.severity.to_string(),
        m.source.clone(),
        m.place_id.clone(),
        m.lead.clone(),
        m.status.clone(),
    ];
    for kind in [SIGN_FOR, ARRIVE, RESOLVE] {
        match clock_of(m, kind) {
            Some(c) => row.extend([
                if c.done {
                    c.seconds.to_string()
                } else {
                    String::new()
                },
                (c.done && c.in_time).to_string(),
                c.alarms.to_string(),
            ]),
            None => row.extend([String::new(), String::new(), String::new()]),
        }
    }
    row.extend([
        m.orders.to_string(),
        m.sent_back.to_string(),
        m.sent_back_reasons.join("; "),
        m.escalation_level.to_string(),
        m.called_back.to_string(),
        m.satisfaction.to_string(),
    ]);
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(kind: i32, who: &str, seconds: u64, in_time: bool) -> pb::StoppedClockMeasure {
        pb::StoppedClockMeasure {
            kind,
            assignee: who.into(),
            done: true,
            seconds,
            in_time,
            alarms: u32::from(!in_time),
        }
    }

    #[test]
    fn the_row_shows_the_leads_clocks_and_marks_late_ones() {
        let m = pb::IncidentMeasures {
            number: "20261130-0001".into(),
            lead: "post:xinhua".into(),
            clocks: vec![
                pb::StoppedClockMeasure {
                    kind: SIGN_FOR,
                    assignee: "post:qianjin".into(),
                    alarms: 1,
                    ..Default::default()
                },
                clock(SIGN_FOR, "post:xinhua", 40, true),
                clock(SIGN_FOR, "unit:fire", 20, true),
                clock(ARRIVE, "post:xinhua", 725, false),
                clock(RESOLVE, "post:xinhua", 3_600, true),
            ],
            sent_back: 1,
            sent_back_reasons: vec!["不属于本辖区".into()],
            called_back: true,
            satisfaction: 4,
            ..Default::default()
        };
        let cells = row(&m, &TimeZone::UTC);
        assert_eq!(cells[8], "40s", "the lead's sign-for, not the unit's");
        assert_eq!(cells[9], "12m05s late");
        assert_eq!(cells[10], "1h00m");
        assert_eq!(cells[11], "1 (不属于本辖区)");
        assert_eq!(cells[13], "4/5");
        let raw = csv_row(&m);
        let header = csv_header();
        let at = |name: &str| {
            let index = header.iter().position(|h| h == name).expect(name);
            raw[index].clone()
        };
        assert_eq!(
            (at("arrive_seconds"), at("arrive_in_time")),
            ("725".into(), "false".into())
        );
        assert_eq!(at("sign_for_seconds"), "40");
        assert_eq!(raw.len(), header.len());
        let sent_back = pb::IncidentMeasures {
            clocks: vec![pb::StoppedClockMeasure {
                kind: SIGN_FOR,
                assignee: "post:qianjin".into(),
                alarms: 1,
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(row(&sent_back, &TimeZone::UTC)[8], "not signed (late)");
    }
}
