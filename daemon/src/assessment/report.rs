//! Builds an assessment report from the day rollups: one walk over the
//! period's days and one over the previous period's, summed into rows per
//! post, unit and slice, then ranked. Nothing here scans incidents or the
//! journal, so a year's report costs a few hundred rollups a day.

use std::collections::{BTreeMap, HashMap};

use dutyroom_proto::v1 as pb;

use super::period::{Period, date_of_key, day_key};
use super::{AssigneeDay, MeasureDay, Slice, SliceDay};
use crate::directory::model::{Category, Place, Post, Unit};
use crate::error::Result;
use crate::incidents::model::{AssigneeKind, AssigneeRef};
use crate::store::{Reader, RollupOf, RollupSubject, Store};

/// The smallest sample ranked when the request does not say.
pub const DEFAULT_MIN_SAMPLE: u32 = 5;

/// How deep a place tree is followed (a cycle in a hand-edited directory
/// must not hang a report).
const MAX_PLACE_DEPTH: usize = 16;

/// What the league table ranks by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RankBy {
    /// 100 × the mean of the compliances and (1 − send-back rate).
    Composite,
    /// A measure's p90 (lower is better).
    P90(super::Measure),
    /// A measure's compliance (higher is better).
    Compliance(super::Measure),
    /// Orders sent back per order (lower is better).
    SendBackRate,
}

impl RankBy {
    /// Every ranking, by its name in the API.
    const ALL: [(&'static str, RankBy); 8] = {
        use super::Measure::*;
        [
            ("composite", RankBy::Composite),
            ("sign_for_p90", RankBy::P90(SignFor)),
            ("arrive_p90", RankBy::P90(Arrive)),
            ("resolve_p90", RankBy::P90(Resolve)),
            ("sign_for_compliance", RankBy::Compliance(SignFor)),
            ("arrive_compliance", RankBy::Compliance(Arrive)),
            ("resolve_compliance", RankBy::Compliance(Resolve)),
            ("send_back_rate", RankBy::SendBackRate),
        ]
    };

    /// Parses the API's name for it (empty: composite).
    pub fn parse(name: &str) -> Option<RankBy> {
        let name = if name.is_empty() { "composite" } else { name };
        Self::ALL
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, rank_by)| *rank_by)
    }

    /// Every name [`RankBy::parse`] takes, comma-separated.
    pub fn names() -> String {
        Self::ALL.map(|(name, _)| name).join(", ")
    }

    fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, rank_by)| *rank_by == self)
            .map_or("composite", |(name, _)| name)
    }

    fn lower_is_better(self) -> bool {
        matches!(self, RankBy::P90(_) | RankBy::SendBackRate)
    }

    /// The row's value for this ranking, if it has one.
    fn value(self, day: &AssigneeDay) -> Option<f64> {
        let measure = |m: super::Measure| day.clocks.measure(m);
        match self {
            RankBy::P90(m) => measure(m).times.percentile(90.0).map(|s| s as f64),
            RankBy::Compliance(m) => compliance(measure(m)),
            RankBy::SendBackRate => send_back_rate(day),
            RankBy::Composite => {
                let timed: Vec<f64> = [
                    compliance(&day.clocks.sign_for),
                    compliance(&day.clocks.arrive),
                    compliance(&day.clocks.resolve),
                ]
                .into_iter()
                .flatten()
                .collect();
                // Orders whose outcome is not known yet (all still running)
                // say nothing: without this a post holding only open orders
                // would score a perfect 100.
                if timed.is_empty() && day.sent_back_total() == 0 {
                    return None;
                }
                let parts: Vec<f64> = timed
                    .into_iter()
                    .chain(send_back_rate(day).map(|rate| 1.0 - rate))
                    .collect();
                (!parts.is_empty()).then(|| 100.0 * parts.iter().sum::<f64>() / parts.len() as f64)
            }
        }
    }
}

fn compliance(measure: &MeasureDay) -> Option<f64> {
    let count = measure.times.count();
    (count > 0).then(|| measure.within as f64 / count as f64)
}

fn send_back_rate(day: &AssigneeDay) -> Option<f64> {
    (day.orders > 0).then(|| day.sent_back_total() as f64 / day.orders as f64)
}

/// Which incidents count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drills {
    /// Real incidents only.
    Exclude,
    /// Both.
    Include,
    /// Drills only.
    Only,
}

impl Drills {
    /// Whether an incident (a drill or not) is counted.
    pub(crate) fn counts(self, drill: bool) -> bool {
        match self {
            Drills::Exclude => !drill,
            Drills::Include => true,
            Drills::Only => drill,
        }
    }
}

/// Which way slices are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SliceBy {
    /// By category.
    Category,
    /// By severity.
    Severity,
    /// By source channel.
    Source,
    /// By place, each place holding those below it.
    Place,
    /// By the local hour received.
    Hour,
    /// By roster shift: the hours each shift of the pattern in force on the
    /// period's last day holds.
    Shift,
}

impl SliceBy {
    fn takes(self, slice: &Slice) -> bool {
        matches!(
            (self, slice),
            (SliceBy::Category, Slice::Category(_))
                | (SliceBy::Severity, Slice::Severity(_))
                | (SliceBy::Source, Slice::Source(_))
                | (SliceBy::Place, Slice::Place(_))
                | (SliceBy::Hour | SliceBy::Shift, Slice::Hour(_))
        )
    }
}

/// What a report is asked for.
#[derive(Debug, Clone)]
pub struct Ask {
    /// The period.
    pub period: Period,
    /// Which incidents count.
    pub drills: Drills,
    /// How slices are cut.
    pub slice_by: SliceBy,
    /// What the league table ranks by.
    pub rank_by: RankBy,
    /// Fewer orders than this: shown, not ranked.
    pub min_sample: u32,
    /// Only this post's or unit's own row (a confined caller).
    pub confined_to: Option<AssigneeRef>,
}

/// One period's rollups, summed.
#[derive(Default)]
struct Gathered {
    assignees: BTreeMap<AssigneeRef, AssigneeDay>,
    daily: HashMap<AssigneeRef, BTreeMap<String, AssigneeDay>>,
    slices: BTreeMap<Slice, SliceDay>,
}

/// Sums a period's rollups. Every assignee's are read (a league places
/// even a confined caller among all); daily figures are kept only for the
/// rows shown.
fn gather(store: &Store, period: &Period, ask: &Ask, daily: bool) -> Result<Gathered> {
    let mut gathered = Gathered::default();
    let want = |drill: bool, about: &RollupSubject| {
        ask.drills.counts(drill)
            && match about {
                RollupSubject::Assignee(_) => true,
                RollupSubject::Slice(slice) => {
                    ask.confined_to.is_none() && ask.slice_by.takes(slice)
                }
            }
    };
    let (from, to) = (day_key(period.from), day_key(period.to));
    store.assessment_days(&from, &to, want, |rollup| match rollup.of {
        RollupOf::Assignee(who, figures) => {
            gathered
                .assignees
                .entry(who.clone())
                .or_default()
                .merge(&figures);
            if daily && ask.confined_to.as_ref().is_none_or(|me| *me == who) {
                gathered
                    .daily
                    .entry(who)
                    .or_default()
                    .entry(rollup.day)
                    .or_default()
                    .merge(&figures);
            }
        }
        RollupOf::Slice(slice, figures) => {
            gathered.slices.entry(slice).or_default().merge(&figures);
        }
    })?;
    Ok(gathered)
}

/// Builds the report `ask` describes.
pub fn build(store: &Store, ask: &Ask, time_zone: &str) -> Result<pb::Report> {
    let previous_period = ask.period.previous()?;
    let now = gather(store, &ask.period, ask, true)?;
    let before = gather(store, &previous_period, ask, false)?;
    let names = Names::read(store, ask.period.to)?;

    let mut posts = Vec::new();
    let mut units = Vec::new();
    let mut everyone: Vec<AssigneeRef> = match &ask.confined_to {
        Some(me) => vec![me.clone()],
        None => now
            .assignees
            .keys()
            .cloned()
            .chain(names.active_posts.iter().map(|id| AssigneeRef::post(id)))
            .chain(names.active_units.iter().map(|id| AssigneeRef::unit(id)))
            .collect(),
    };
    everyone.sort();
    everyone.dedup();
    let empty = AssigneeDay::default();
    let previous_ranks = ranks(&before.assignees, ask);
    let current_ranks = ranks(&now.assignees, ask);
    for who in everyone {
        let figures = now.assignees.get(&who).unwrap_or(&empty);
        let previous = before.assignees.get(&who).unwrap_or(&empty);
        let value = ask.rank_by.value(figures);
        let previous_value = ask.rank_by.value(previous);
        let row = pb::AssigneeRow {
            assignee: who.to_string(),
            name: names.assignee(&who),
            orders: figures.orders,
            sent_back: figures.sent_back_total(),
            send_back_rate: send_back_rate(figures).unwrap_or(-1.0),
            sent_back_reasons: figures
                .sent_back
                .iter()
                .map(|(reason, count)| pb::ReasonCount {
                    reason: reason.clone(),
                    count: *count,
                })
                .collect(),
            sign_for: Some(figures_of(&figures.clocks.sign_for)),
            arrive: Some(figures_of(&figures.clocks.arrive)),
            resolve: Some(figures_of(&figures.clocks.resolve)),
            skewed: figures.skewed,
            value: value.unwrap_or(0.0),
            has_value: value.is_some(),
            rank: current_ranks.get(&who).copied().unwrap_or(0),
            previous_value: previous_value.unwrap_or(0.0),
            had_previous_value: previous_value.is_some(),
            previous_rank: previous_ranks.get(&who).copied().unwrap_or(0),
            daily: daily_points(now.daily.get(&who)),
        };
        match who.kind {
            AssigneeKind::Post => posts.push(row),
            AssigneeKind::Unit => units.push(row),
        }
    }
    for rows in [&mut posts, &mut units] {
        rows.sort_by(|a, b| {
            let rank = |r: &pb::AssigneeRow| if r.rank == 0 { u32::MAX } else { r.rank };
            rank(a)
                .cmp(&rank(b))
                .then_with(|| a.assignee.cmp(&b.assignee))
        });
    }

    let confined = ask.confined_to.is_some();
    let slices = if confined {
        Vec::new()
    } else {
        slice_rows(&now.slices, &before.slices, ask.slice_by, &names)
    };
    let (summary, previous_summary) = if confined {
        (None, None)
    } else {
        (
            Some(totals(&sum_slices(&now.slices))),
            Some(totals(&sum_slices(&before.slices))),
        )
    };
    Ok(pb::Report {
        period: Some(period_out(&ask.period)),
        previous_period: Some(period_out(&previous_period)),
        drills: match ask.drills {
            Drills::Exclude => pb::DrillFilter::Exclude,
            Drills::Include => pb::DrillFilter::Include,
            Drills::Only => pb::DrillFilter::Only,
        } as i32,
        time_zone: time_zone.to_owned(),
        summary,
        previous_summary,
        posts,
        units,
        slice_by: match ask.slice_by {
            SliceBy::Category => pb::SliceBy::Category,
            SliceBy::Severity => pb::SliceBy::Severity,
            SliceBy::Source => pb::SliceBy::Source,
            SliceBy::Place => pb::SliceBy::Place,
            SliceBy::Hour => pb::SliceBy::Hour,
            SliceBy::Shift => pb::SliceBy::Shift,
        } as i32,
        slices,
        rank_by: ask.rank_by.name().to_owned(),
        min_sample: ask.min_sample,
        confined_to: ask
            .confined_to
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
    })
}

/// Competition ranks (1, 2, 2, 4) of the rows with enough orders and a
/// value, best first.
fn ranks(rows: &BTreeMap<AssigneeRef, AssigneeDay>, ask: &Ask) -> HashMap<AssigneeRef, u32> {
    let mut ranked: Vec<(&AssigneeRef, f64, AssigneeKind)> = rows
        .iter()
        .filter(|(_, day)| day.orders >= u64::from(ask.min_sample))
        .filter_map(|(who, day)| ask.rank_by.value(day).map(|v| (who, v, who.kind)))
        .collect();
    let lower = ask.rank_by.lower_is_better();
    ranked.sort_by(|a, b| {
        let order = a.1.total_cmp(&b.1);
        a.2.cmp(&b.2)
            .then(if lower { order } else { order.reverse() })
            .then_with(|| a.0.cmp(b.0))
    });
    let mut out = HashMap::new();
    let mut place = 0u32;
    let mut previous: Option<(AssigneeKind, f64, u32)> = None;
    for (who, value, kind) in ranked {
        place = match previous {
            Some((k, _, _)) if k != kind => 1,
            _ => place + 1,
        };
        let rank = match previous {
            Some((k, v, r)) if k == kind && v == value => r,
            _ => place,
        };
        out.insert(who.clone(), rank);
        previous = Some((kind, value, rank));
    }
    out
}

/// The days of a row that have figures, in order.
fn daily_points(days: Option<&BTreeMap<String, AssigneeDay>>) -> Vec<pb::DayPoint> {
    let p90 = |m: &MeasureDay| m.times.percentile(90.0).unwrap_or(0);
    days.into_iter()
        .flatten()
        .filter_map(|(key, day)| {
            Some(pb::DayPoint {
                day: date_of_key(key)?.to_string(),
                orders: day.orders,
                sign_for_p90: p90(&day.clocks.sign_for),
                arrive_p90: p90(&day.clocks.arrive),
                resolve_p90: p90(&day.clocks.resolve),
            })
        })
        .collect()
}

fn sum_slices(slices: &BTreeMap<Slice, SliceDay>) -> SliceDay {
    let mut sum = SliceDay::default();
    // Every slice of one way holds every incident once: summing one way
    // (whichever the report is cut by) gives the whole.
    for figures in slices.values() {
        sum.merge(figures);
    }
    sum
}

fn slice_rows(
    now: &BTreeMap<Slice, SliceDay>,
    before: &BTreeMap<Slice, SliceDay>,
    by: SliceBy,
    names: &Names,
) -> Vec<pb::SliceRow> {
    let roll_up = |slices: &BTreeMap<Slice, SliceDay>| {
        let mut rows: BTreeMap<String, SliceDay> = BTreeMap::new();
        for (slice, figures) in slices {
            for key in names.keys_of(slice, by) {
                rows.entry(key).or_default().merge(figures);
            }
        }
        rows
    };
    let now = roll_up(now);
    let before = roll_up(before);
    let mut keys: Vec<&String> = now.keys().chain(before.keys()).collect();
    keys.sort();
    keys.dedup();
    let empty = SliceDay::default();
    let mut rows: Vec<pb::SliceRow> = keys
        .into_iter()
        .map(|key| pb::SliceRow {
            key: key.clone(),
            label: names.slice_label(key, by),
            totals: Some(totals(now.get(key).unwrap_or(&empty))),
            previous: Some(totals(before.get(key).unwrap_or(&empty))),
        })
        .collect();
    rows.sort_by(|a, b| {
        let created = |r: &pb::SliceRow| r.totals.as_ref().map_or(0, |t| t.created);
        created(b).cmp(&created(a)).then_with(|| a.key.cmp(&b.key))
    });
    rows
}

fn figures_of(measure: &MeasureDay) -> pb::Figures {
    let times = &measure.times;
    let p = |q: f64| times.percentile(q).unwrap_or(0);
    pb::Figures {
        count: times.count(),
        p50: p(50.0),
        p90: p(90.0),
        p95: p(95.0),
        max: times.max(),
        mean: times.mean().unwrap_or(0.0),
        within: measure.within,
        compliance: compliance(measure).unwrap_or(-1.0),
        overdue: measure.overdue,
    }
}

fn totals(day: &SliceDay) -> pb::Totals {
    let given: u64 = day.satisfaction.values().sum();
    let score_sum: u64 = day
        .satisfaction
        .iter()
        .map(|(score, count)| u64::from(*score) * count)
        .sum();
    pb::Totals {
        created: day.created,
        orders: day.orders,
        sent_back: day.sent_back,
        sign_for: Some(figures_of(&day.clocks.sign_for)),
        arrive: Some(figures_of(&day.clocks.arrive)),
        resolve: Some(figures_of(&day.clocks.resolve)),
        reached: day
            .reached
            .iter()
            .map(|(level, incidents)| pb::LevelCount {
                level: u32::from(*level),
                incidents: *incidents,
            })
            .collect(),
        callbacks: day.callbacks,
        satisfaction: day
            .satisfaction
            .iter()
            .map(|(score, callbacks)| pb::ScoreCount {
                score: u32::from(*score),
                callbacks: *callbacks,
            })
            .collect(),
        satisfaction_mean: if given > 0 {
            score_sum as f64 / given as f64
        } else {
            0.0
        },
        skewed: day.skewed,
    }
}

pub(crate) fn period_out(period: &Period) -> pb::ReportPeriod {
    use super::period::PeriodKind as K;
    pb::ReportPeriod {
        kind: match period.kind {
            K::Span => pb::PeriodKind::Unspecified,
            K::Day => pb::PeriodKind::Day,
            K::Week => pb::PeriodKind::Week,
            K::Month => pb::PeriodKind::Month,
            K::Quarter => pb::PeriodKind::Quarter,
            K::Year => pb::PeriodKind::Year,
        } as i32,
        from: period.from.to_string(),
        to: period.to.to_string(),
        label: period.label(),
    }
}

/// The directory's names, and the place tree.
struct Names {
    posts: HashMap<String, String>,
    units: HashMap<String, String>,
    /// Posts and units not retired: shown even with nothing to count.
    active_posts: Vec<String>,
    active_units: Vec<String>,
    categories: HashMap<String, String>,
    places: HashMap<String, (String, Option<String>)>,
    /// Each local hour's shift, in the pattern in force on the period's
    /// last day (`-` for every hour when no pattern is set).
    shift_of_hour: Vec<String>,
}

/// The slice key of incidents with no place.
const NO_PLACE: &str = "-";

impl Names {
    fn read(store: &Store, last_day: jiff::civil::Date) -> Result<Names> {
        let posts = Reader::entries::<Post>(store)?;
        let units = Reader::entries::<Unit>(store)?;
        let roster = Reader::roster_config(store)?;
        let pattern = roster.pattern_on(last_day);
        Ok(Names {
            shift_of_hour: (0..24)
                .map(|hour| pattern.map_or_else(|| NO_PLACE.to_owned(), |p| shift_at(p, hour)))
                .collect(),
            active_posts: posts
                .iter()
                .filter(|p| !p.retired)
                .map(|p| p.id.clone())
                .collect(),
            active_units: units
                .iter()
                .filter(|u| !u.retired)
                .map(|u| u.id.clone())
                .collect(),
            posts: posts.into_iter().map(|p| (p.id, p.name)).collect(),
            units: units.into_iter().map(|u| (u.id, u.name)).collect(),
            categories: Reader::entries::<Category>(store)?
                .into_iter()
                .map(|c| (c.code, c.name_zh))
                .collect(),
            places: Reader::entries::<Place>(store)?
                .into_iter()
                .map(|p| (p.id, (p.name, p.parent_id)))
                .collect(),
        })
    }

    fn assignee(&self, who: &AssigneeRef) -> String {
        let names = match who.kind {
            AssigneeKind::Post => &self.posts,
            AssigneeKind::Unit => &self.units,
        };
        names
            .get(&who.id)
            .cloned()
            .unwrap_or_else(|| who.id.clone())
    }

    /// The rows a slice adds to: its own, and for a place every place
    /// above it.
    fn keys_of(&self, slice: &Slice, by: SliceBy) -> Vec<String> {
        if !by.takes(slice) {
            return Vec::new();
        }
        match slice {
            Slice::Category(code) => vec![code.clone()],
            Slice::Severity(severity) => vec![severity.label().to_owned()],
            Slice::Source(source) => vec![source_key(*source)],
            Slice::Place(None) => vec![NO_PLACE.to_owned()],
            Slice::Place(Some(place)) => {
                let mut keys = vec![place.clone()];
                let mut at = place;
                while let Some((_, Some(parent))) = self.places.get(at) {
                    if keys.len() > MAX_PLACE_DEPTH || keys.contains(parent) {
                        break;
                    }
                    keys.push(parent.clone());
                    at = parent;
                }
                keys
            }
            Slice::Hour(hour) if by == SliceBy::Hour => vec![format!("{hour:02}")],
            Slice::Hour(hour) => vec![
                self.shift_of_hour
                    .get(usize::from(*hour))
                    .cloned()
                    .unwrap_or_else(|| NO_PLACE.to_owned()),
            ],
        }
    }

    fn slice_label(&self, key: &str, by: SliceBy) -> String {
        match by {
            SliceBy::Category => self.categories.get(key).cloned(),
            SliceBy::Place if key == NO_PLACE => Some("（无地点）".to_owned()),
            SliceBy::Place => self.places.get(key).map(|(name, _)| name.clone()),
            SliceBy::Hour => key
                .parse::<u8>()
                .ok()
                .map(|h| format!("{h:02}:00–{:02}:00", (h + 1) % 24)),
            SliceBy::Shift if key == NO_PLACE => Some("（未设班次）".to_owned()),
            SliceBy::Severity | SliceBy::Source | SliceBy::Shift => None,
        }
        .unwrap_or_else(|| key.to_owned())
    }
}

/// The shift of `pattern` in force at `hour`:00: the last to start at or
/// before it, else the day's last (it runs over midnight). An hour a shift
/// starts inside (08:30) counts in the shift before.
fn shift_at(pattern: &crate::rosters::model::Pattern, hour: i8) -> String {
    let at = jiff::civil::Time::new(hour, 0, 0, 0).unwrap_or_default();
    let mut shifts: Vec<&crate::rosters::model::ShiftDef> = pattern.shifts.iter().collect();
    shifts.sort_by_key(|s| s.start);
    shifts
        .iter()
        .rev()
        .find(|s| s.start <= at)
        .or(shifts.last())
        .map_or_else(|| NO_PLACE.to_owned(), |s| s.name.clone())
}

/// A source channel's key: its API name without the prefix, lower case
/// (`police_110`).
pub(crate) fn source_key(source: crate::incidents::model::Source) -> String {
    let name = crate::convert::source_out(source).as_str_name();
    name.trim_start_matches("SOURCE_CHANNEL_")
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::super::{Measure, Observation};
    use super::*;

    fn day(observations: &[Observation]) -> AssigneeDay {
        let mut day = AssigneeDay::default();
        for observation in observations {
            day.add(observation, false);
        }
        day
    }

    fn assigned() -> Observation {
        Observation::Assigned {
            assignee: AssigneeRef::post("xinhua"),
        }
    }

    fn signed(secs: u64, within: bool) -> Observation {
        Observation::Done {
            measure: Measure::SignFor,
            assignee: Some(AssigneeRef::post("xinhua")),
            secs,
            within: Some(within),
            alarms: u8::from(!within),
        }
    }

    #[test]
    fn the_composite_needs_an_order_whose_outcome_is_known() {
        let open_only = day(&[assigned(), assigned()]);
        assert_eq!(
            RankBy::Composite.value(&open_only),
            None,
            "two orders still running: no score, not a perfect 100"
        );
        let sent_back = day(&[
            assigned(),
            Observation::SentBack {
                assignee: AssigneeRef::post("xinhua"),
                reason: "不属于本辖区".into(),
            },
        ]);
        assert_eq!(RankBy::Composite.value(&sent_back), Some(0.0));
        // Sign-for 1 of 2 in time (0.5), nothing sent back of 2 (1.0).
        let timed = day(&[assigned(), assigned(), signed(40, true), signed(90, false)]);
        assert_eq!(RankBy::Composite.value(&timed), Some(75.0));
    }
}
