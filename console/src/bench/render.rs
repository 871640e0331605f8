//! `duty bench render`: the console's frame time with many open incidents,
//! on an in-memory terminal (no daemon).

use std::time::Instant;

use dutyroom_proto::v1 as pb;

/// What the render benchmark measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RenderReport {
    /// Incidents on the board.
    pub incidents: usize,
    /// Terminal size.
    pub width: u16,
    /// Terminal size.
    pub height: u16,
    /// Frames drawn.
    pub frames: usize,
    /// Drawing one frame, median, microseconds.
    pub frame_p50_us: u64,
    /// Drawing one frame, 99th percentile.
    pub frame_p99_us: u64,
    /// Re-filtering and re-sorting the board after a change, median.
    pub rebuild_p50_us: u64,
}

/// Draws the board with `incidents` open incidents `frames` times on an
/// in-memory terminal and times each frame (and each board rebuild, which
/// runs once per change, not per frame).
pub fn render(
    incidents: usize,
    frames: usize,
    width: u16,
    height: u16,
) -> anyhow::Result<RenderReport> {
    use crate::tui::app::{App, AppEvent};
    use crate::tui::commands::Keymap;
    use crate::tui::model::Snapshot;
    use crate::tui::views::{self, Theme};

    let now = jiff::Timestamp::now();
    let secs = now.as_second();
    let at = |s: i64| {
        Some(prost_types::Timestamp {
            seconds: s,
            nanos: 0,
        })
    };
    let mut snapshot = Snapshot {
        head_seq: 1,
        ..Snapshot::default()
    };
    for (index, (id, name, communities)) in crate::demo::POSTS.iter().enumerate() {
        snapshot.posts.push(pb::Post {
            id: (*id).into(),
            name: format!("{name}指挥部"),
            mode: if index == 0 {
                pb::PostMode::Emergency
            } else {
                pb::PostMode::Normal
            } as i32,
            ..Default::default()
        });
        for (n, community) in communities.iter().enumerate() {
            snapshot.places.push(pb::Place {
                id: format!("{id}-c{n}"),
                name: (*community).into(),
                post_id: (*id).into(),
                ..Default::default()
            });
        }
    }
    for (code, zh, en, _) in crate::demo::CATEGORIES {
        snapshot.categories.push(pb::Category {
            code: code.into(),
            name_zh: zh.into(),
            name_en: en.into(),
            ..Default::default()
        });
    }
    let mut dice = crate::demo::Dice::new();
    for n in 0..incidents {
        let (post, _, _) = crate::demo::POSTS[n % crate::demo::POSTS.len()];
        let started = secs - dice.below(3600) as i64;
        let due = started + 60 + dice.below(900) as i64;
        snapshot.incidents.push(pb::Incident {
            id: n as u64 + 1,
            number: format!("20261123-{:04}", n + 1),
            status: pb::IncidentStatus::Dispatched as i32,
            severity: 1 + dice.below(4) as i32,
            category: crate::demo::CATEGORIES[n % crate::demo::CATEGORIES.len()]
                .0
                .into(),
            place_id: format!("{post}-c{}", n % 2),
            territorial_post_id: post.into(),
            summary: "居民楼楼道内电动车充电起火，有浓烟".into(),
            created_at: at(started),
            assignments: vec![pb::Assignment {
                id: 1,
                assignee: Some(pb::Assignee {
                    kind: pb::AssigneeKind::Post as i32,
                    id: post.into(),
                    name: String::new(),
                }),
                role: pb::AssignmentRole::Lead as i32,
                state: pb::AssignmentState::Dispatched as i32,
                dispatched_at: at(started),
                ..Default::default()
            }],
            clocks: vec![pb::Clock {
                kind: pb::ClockKind::SignFor as i32,
                assignment_id: 1,
                started_at: at(started),
                due: at(due),
                alarms: 0,
                next_alarm_at: at(due),
            }],
            ..Default::default()
        });
    }
    let keymap = Keymap::new(&std::collections::BTreeMap::new())?;
    let mut app = App::new(crate::tui::i18n::Lang::Zh, keymap, now);
    app.update(AppEvent::Snapshot(Box::new(snapshot)));
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(width, height))?;
    let theme = Theme { color: true };
    let mut frame_times = Vec::with_capacity(frames);
    let mut rebuild_times = Vec::with_capacity(frames);
    for frame in 0..frames {
        // Each frame a second later, as the live countdowns tick.
        app.now = now + jiff::SignedDuration::from_secs(frame as i64);
        let started = Instant::now();
        app.rebuild();
        rebuild_times.push(started.elapsed().as_micros() as u64);
        let started = Instant::now();
        terminal.draw(|f| views::render(&app, &theme, f))?;
        frame_times.push(started.elapsed().as_micros() as u64);
    }
    frame_times.sort_unstable();
    rebuild_times.sort_unstable();
    let pick = |values: &[u64], q: f64| values[((values.len() - 1) as f64 * q) as usize];
    Ok(RenderReport {
        incidents,
        width,
        height,
        frames,
        frame_p50_us: pick(&frame_times, 0.5),
        frame_p99_us: pick(&frame_times, 0.99),
        rebuild_p50_us: pick(&rebuild_times, 0.5),
    })
}
