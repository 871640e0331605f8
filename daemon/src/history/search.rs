//! Finding any incident ever recorded: what of an incident is searchable,
//! how text is cut into the grams the index holds, and how a query walks
//! the index (the key layout itself is the store's).
//!
//! - **Text** (caller name, address, summary, tags, notes, outcome, callback,
//!   reasons): lower-cased, cut at anything that is not a letter or digit,
//!   and each run of two or more characters indexed by its character
//!   bigrams (`电动车` → `电动`, `动车`). A query's runs are cut the same
//!   way; an incident matches when it holds every bigram and — checked on
//!   the incident itself — every run as a substring of one field, so
//!   `电动车` never matches `电动 车` by accident. A query run of one
//!   character (`火`) has no bigram and is refused: say more.
//! - **Phone**: the caller's digits, reversed, so the last four or more
//!   digits find every number ending in them.
//! - **Pinyin initials** of the caller's name (`张先生` → `zxs`): a query of
//!   Latin letters also finds names whose initials begin with it.
//!
//! Results come newest first (by id, which is intake order), paged by the
//! last id returned.

use std::collections::{BTreeSet, HashSet};

use pinyin::ToPinyin;

use crate::auth::principal::Principal;
use crate::error::Result;
use crate::incidents::model::{AssigneeRef, Incident, Severity, Source, Status};
use crate::store::{Counter, Reader, Store};

/// Shortest phone tail a search takes.
pub const MIN_PHONE_DIGITS: usize = 4;

/// The texts of `incident` that text search reads.
pub fn texts(incident: &Incident) -> Vec<&str> {
    let intake = &incident.intake;
    let mut texts = vec![
        intake.caller_name.as_str(),
        intake.address.as_str(),
        intake.summary.as_str(),
    ];
    texts.extend(intake.tags.iter().map(String::as_str));
    texts.extend(incident.notes.iter().map(|n| n.text.as_str()));
    for call in &incident.repeat_calls {
        texts.push(call.caller_name.as_str());
        texts.push(call.text.as_str());
    }
    texts.extend(
        [
            &incident.outcome,
            &incident.callback_result,
            &incident.cancel_reason,
        ]
        .into_iter()
        .flatten()
        .map(String::as_str),
    );
    texts.extend(
        incident
            .assignments
            .iter()
            .filter_map(|a| a.reason.as_deref()),
    );
    texts
}

/// Every phone number that called about `incident`: the intake's, then
/// each repeat call's.
pub fn phones(incident: &Incident) -> impl Iterator<Item = &str> {
    std::iter::once(incident.intake.caller_phone.as_str())
        .chain(
            incident
                .repeat_calls
                .iter()
                .map(|c| c.caller_phone.as_str()),
        )
        .filter(|phone| !phone.is_empty())
}

/// Every caller's name: the intake's, then each repeat call's.
pub fn caller_names(incident: &Incident) -> impl Iterator<Item = &str> {
    std::iter::once(incident.intake.caller_name.as_str())
        .chain(incident.repeat_calls.iter().map(|c| c.caller_name.as_str()))
        .filter(|name| !name.is_empty())
}

/// Does `phone` end with the digits `tail` (reversed, as queries hold it)?
pub fn phone_ends_with(phone: &str, reversed_tail: &str) -> bool {
    !reversed_tail.is_empty() && reversed_digits(phone).starts_with(reversed_tail)
}

/// Is `phone` the same number as the one whose digits, reversed, are
/// `reversed` ([`phone_digits`]'s form): the whole number, not only its
/// end (`87000111` is not `13987000111`), the country code aside.
pub fn same_number(phone: &str, reversed: &str) -> bool {
    !reversed.is_empty() && phone_digits(phone, 1).is_some_and(|digits| digits == reversed)
}

/// Do `a` and `b` (the same incident before and after a change) hold the
/// same searchable texts, phones and names? Then its search keys stand.
pub fn same_searchables(a: &Incident, b: &Incident) -> bool {
    phones(a).eq(phones(b)) && texts(a) == texts(b)
}

/// Runs of letters and digits in `text`, lower-cased.
pub fn runs(text: &str) -> Vec<Vec<char>> {
    let mut runs = Vec::new();
    let mut run = Vec::new();
    for c in text.chars() {
        if c.is_alphanumeric() {
            run.extend(c.to_lowercase());
        } else if !run.is_empty() {
            runs.push(std::mem::take(&mut run));
        }
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

/// The bigrams of each run of two or more characters in `text`.
pub fn grams(text: &str) -> BTreeSet<String> {
    let mut grams = BTreeSet::new();
    for run in runs(text) {
        for pair in run.windows(2) {
            grams.insert(pair.iter().collect());
        }
    }
    grams
}

/// Every bigram of an incident's searchable texts.
pub fn incident_grams(incident: &Incident) -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    for text in texts(incident) {
        all.extend(grams(text));
    }
    all
}

/// The digits of a phone number, last first: `139-1234-5678` → `87654321931`.
pub fn reversed_digits(phone: &str) -> String {
    phone.chars().rev().filter(char::is_ascii_digit).collect()
}

/// `phone`'s digits reversed ([`reversed_digits`]) when it is written as
/// a number (digits, spaces, `-`, `+` only) of `min` to 20 digits.
///
/// A Chinese mobile number written with the country code (`+86 139…`,
/// `0086139…`) is looked up as the 11 digits people store.
pub fn phone_digits(phone: &str, min: usize) -> Option<String> {
    let allowed = phone
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '+'));
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let national = ["0086", "86"]
        .iter()
        .find_map(|code| digits.strip_prefix(code))
        .filter(|rest| rest.len() == 11 && rest.starts_with('1'))
        .unwrap_or(&digits);
    let reversed: String = national.chars().rev().collect();
    (allowed && (min..=20).contains(&reversed.len())).then_some(reversed)
}

/// Pinyin initials of the Chinese characters of `name`, Latin letters kept
/// (lower-cased), anything else left out: `张先生` → `zxs`, `王Li` → `wli`.
pub fn initials(name: &str) -> String {
    name.chars()
        .filter_map(|c| match c.to_pinyin() {
            Some(p) => p.first_letter().chars().next(),
            None if c.is_ascii_alphabetic() => Some(c.to_ascii_lowercase()),
            None => None,
        })
        .collect()
}

/// Does `incident` hold every run of `query_runs` inside one of its texts?
pub fn holds_text(incident: &Incident, query_runs: &[String]) -> bool {
    let texts: Vec<String> = texts(incident)
        .into_iter()
        .map(|t| {
            runs(t)
                .into_iter()
                .map(|r| r.into_iter().collect::<String>())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    query_runs
        .iter()
        .all(|run| texts.iter().any(|t| t.contains(run.as_str())))
}

/// What a search asks for, checked (see the service for the messages).
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Runs of text every match holds, each of two or more characters.
    pub runs: Vec<String>,
    /// The query was Latin letters only: also callers whose name's initials
    /// begin with this.
    pub initials: Option<String>,
    /// The caller's phone, or its last 4+ digits, reversed.
    pub phone_tail: Option<String>,
    /// Everything else an incident must be.
    pub filter: Filter,
}

/// What a found incident must also be.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Its category.
    pub category: Option<String>,
    /// Its severity.
    pub severity: Option<Severity>,
    /// Its source channel.
    pub source: Option<Source>,
    /// One of these statuses (any when empty).
    pub statuses: Vec<Status>,
    /// Ever assigned to this post or unit.
    pub assignee: Option<AssigneeRef>,
    /// Received on or after this local day (`YYYYMMDD`).
    pub from: Option<String>,
    /// Received on or before this local day (`YYYYMMDD`).
    pub to: Option<String>,
    /// At one of these places (a place and those below it).
    pub places: Option<HashSet<String>>,
    /// Only incidents this post or unit is involved in (a confined caller).
    pub visible_to: Option<Principal>,
}

impl Filter {
    fn admits(&self, incident: &Incident) -> bool {
        let intake = &incident.intake;
        self.category.as_ref().is_none_or(|c| &intake.category == c)
            && self.severity.is_none_or(|s| intake.severity == s)
            && self.source.is_none_or(|s| intake.source == s)
            && (self.statuses.is_empty() || self.statuses.contains(&incident.status()))
            && self
                .assignee
                .as_ref()
                .is_none_or(|a| incident.assignments.iter().any(|x| &x.assignee == a))
            && self.from.as_deref().is_none_or(|d| incident.day() >= d)
            && self.to.as_deref().is_none_or(|d| incident.day() <= d)
            && self
                .places
                .as_ref()
                .is_none_or(|places| intake.place_id.as_ref().is_some_and(|p| places.contains(p)))
            && self
                .visible_to
                .as_ref()
                .is_none_or(|p| crate::visibility::incident(p, incident))
    }
}

impl Query {
    /// Does `incident` match? (The index finds candidates; this decides.)
    pub fn matches(&self, incident: &Incident) -> bool {
        let text = if self.runs.is_empty() && self.initials.is_none() {
            true
        } else {
            (!self.runs.is_empty() && holds_text(incident, &self.runs))
                || self.initials.as_ref().is_some_and(|i| {
                    caller_names(incident).any(|name| initials(name).starts_with(i.as_str()))
                })
        };
        text && self
            .phone_tail
            .as_ref()
            .is_none_or(|tail| phones(incident).any(|phone| phone_ends_with(phone, tail)))
            && self.filter.admits(incident)
    }
}

/// Candidates a page looks at, at most, before it answers with what it has
/// and where to go on: a search over a year never holds a call long.
pub const LOOK_AT_MOST: usize = 20_000;

/// Incidents a phone tail or initials may name before the search says to
/// narrow it.
const MOST_IDS: usize = 200_000;

/// One page of a search.
#[derive(Debug, Default)]
pub struct Found {
    /// Newest first.
    pub incidents: Vec<Incident>,
    /// Below which id the next page starts, when there may be more.
    pub next_below: Option<u64>,
}

/// Candidate ids, newest first.
enum Candidates<'a> {
    /// Ids already in order.
    Listed(std::vec::IntoIter<u64>),
    /// Ids every bigram's list holds.
    Grams {
        store: &'a Store,
        grams: Vec<String>,
        at_most: Option<u64>,
    },
    /// Every id from `next` down to `lowest`.
    Range { next: Option<u64>, lowest: u64 },
    /// The first stream, then the second (all of whose ids are lower).
    Chain(Box<Candidates<'a>>, Box<Candidates<'a>>),
    /// Two streams merged, each id once.
    Merge(
        Box<Candidates<'a>>,
        Box<Candidates<'a>>,
        Option<Option<u64>>,
        Option<Option<u64>>,
    ),
}

impl Candidates<'_> {
    fn next(&mut self) -> Result<Option<u64>> {
        match self {
            Candidates::Listed(ids) => Ok(ids.next()),
            Candidates::Range { next, lowest } => {
                let id = match next {
                    Some(id) if *id >= *lowest => *id,
                    _ => return Ok(None),
                };
                *next = id.checked_sub(1);
                Ok(Some(id))
            }
            Candidates::Grams {
                store,
                grams,
                at_most,
            } => {
                // Leapfrog: the largest id every gram holds, at or below
                // `at_most`; each miss lowers the bound to the next id the
                // missing gram holds.
                let Some(mut bound) = *at_most else {
                    return Ok(None);
                };
                'search: loop {
                    for gram in grams.iter() {
                        match store.incident_with_gram(gram, bound)? {
                            None => {
                                *at_most = None;
                                return Ok(None);
                            }
                            Some(id) if id < bound => {
                                bound = id;
                                continue 'search;
                            }
                            Some(_) => {}
                        }
                    }
                    *at_most = bound.checked_sub(1);
                    return Ok(Some(bound));
                }
            }
            Candidates::Chain(first, then) => match first.next()? {
                Some(id) => Ok(Some(id)),
                None => then.next(),
            },
            Candidates::Merge(a, b, head_a, head_b) => {
                if head_a.is_none() {
                    *head_a = Some(a.next()?);
                }
                if head_b.is_none() {
                    *head_b = Some(b.next()?);
                }
                let (x, y) = (head_a.flatten(), head_b.flatten());
                Ok(match (x, y) {
                    (None, None) => None,
                    (Some(x), Some(y)) if x == y => {
                        *head_a = None;
                        *head_b = None;
                        Some(x)
                    }
                    (Some(x), Some(y)) if x > y => {
                        *head_a = None;
                        Some(x)
                    }
                    (Some(x), None) => {
                        *head_a = None;
                        Some(x)
                    }
                    (_, Some(y)) => {
                        *head_b = None;
                        Some(y)
                    }
                })
            }
        }
    }
}

/// One page of at most `limit` incidents matching `query`, newest first,
/// each with an id below `below` (from the previous page). Candidates come
/// from the index for what it holds, and one by one for what it does not
/// hold yet: the newest incidents (the indexer's tail) and those changed
/// since they were indexed.
pub fn search(store: &Store, query: &Query, limit: usize, below: Option<u64>) -> Result<Found> {
    let top = match below {
        Some(0) => return Ok(Found::default()),
        Some(below) => below - 1,
        None => store.counter(Counter::IncidentId)?,
    };
    // Received in a span of days: the ids between its first and last.
    let (lowest, top) = match (&query.filter.from, &query.filter.to) {
        (None, None) => (1, top),
        (from, to) => {
            let from = from.as_deref().unwrap_or("00000000");
            let to = to.as_deref().unwrap_or("99999999");
            match store.incident_ids_received(from, to)? {
                Some((first, last)) => (first, top.min(last)),
                None => return Ok(Found::default()),
            }
        }
    };
    let indexed_below = store.search_indexed_below()?.max(1);
    let indexed_top = top.min(indexed_below - 1);
    let listed = |mut ids: Vec<u64>| {
        ids.retain(|id| (lowest..=indexed_top).contains(id));
        ids.sort_unstable_by(|a, b| b.cmp(a));
        ids.dedup();
        Candidates::Listed(ids.into_iter())
    };
    let grams: Vec<String> = query
        .runs
        .iter()
        .flat_map(|run| grams(run))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let indexed = if let Some(tail) = &query.phone_tail {
        listed(store.incidents_with_phone_tail(tail, MOST_IDS)?)
    } else if !grams.is_empty() {
        let by_grams = Candidates::Grams {
            store,
            grams,
            at_most: (indexed_top >= lowest).then_some(indexed_top),
        };
        match &query.initials {
            Some(initials) => Candidates::Merge(
                Box::new(by_grams),
                Box::new(listed(store.incidents_with_initials(initials, MOST_IDS)?)),
                None,
                None,
            ),
            None => by_grams,
        }
    } else if let Some(initials) = &query.initials {
        listed(store.incidents_with_initials(initials, MOST_IDS)?)
    } else {
        Candidates::Range {
            next: Some(indexed_top),
            lowest,
        }
    };
    let not_indexed = Candidates::Range {
        next: Some(top),
        lowest: indexed_below.max(lowest),
    };
    let mut changed = store.search_dirty(MOST_IDS)?;
    changed.retain(|id| (lowest..=indexed_top).contains(id));
    let mut candidates = Candidates::Merge(
        Box::new(Candidates::Chain(Box::new(not_indexed), Box::new(indexed))),
        Box::new(Candidates::Listed(changed.into_iter())),
        None,
        None,
    );
    let mut found = Found::default();
    let mut looked = 0;
    while let Some(id) = candidates.next()? {
        if id < lowest {
            break;
        }
        if id > top {
            continue;
        }
        looked += 1;
        if let Some(incident) = store.incident(id)?
            && query.matches(&incident)
        {
            found.incidents.push(incident);
            if found.incidents.len() >= limit {
                found.next_below = Some(id);
                break;
            }
        }
        if looked >= LOOK_AT_MOST {
            found.next_below = Some(id);
            break;
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_cut_at_anything_but_letters_and_digits_into_bigrams() {
        let grams: Vec<String> = grams("电动车,起火！ABC 1").into_iter().collect();
        assert_eq!(grams, ["ab", "bc", "动车", "电动", "起火"]);
        assert!(grams.iter().all(|g| g.chars().count() == 2));
    }

    #[test]
    fn phones_are_reversed_digits_and_names_have_initials() {
        assert_eq!(reversed_digits("139-1234 5678"), "87654321931");
        assert_eq!(initials("张先生"), "zxs");
        assert_eq!(initials("王Li·"), "wli");
    }

    #[test]
    fn a_mobile_with_its_country_code_is_looked_up_as_stored() {
        for written in [
            "+86 139 0000 1111",
            "0086-13900001111",
            "8613900001111",
            "13900001111",
        ] {
            assert_eq!(
                phone_digits(written, 4).as_deref(),
                Some("11110000931"),
                "{written}"
            );
        }
        // Not a mobile after the code: kept whole.
        assert_eq!(
            phone_digits("86571870001", 4).as_deref(),
            Some("10007817568")
        );
        assert_eq!(phone_digits("12a4", 4), None);
        // A whole number is the whole number.
        let mobile = phone_digits("13987000111", 7).expect("mobile");
        assert!(same_number("+86 139-8700-0111", &mobile));
        assert!(!same_number("87000111", &mobile));
        let landline = phone_digits("87000111", 7).expect("landline");
        assert!(!same_number("13987000111", &landline));
        assert!(same_number("8700 0111", &landline));
    }
}

#[cfg(test)]
mod against_a_scan {
    //! Search against a brute-force scan on generated data: random Chinese
    //! text, phones, names and days; same results, same order.

    use super::*;
    use crate::incidents::model::{Note, Phase, RepeatCall};
    use crate::store::WriteSet;

    /// A small deterministic pseudo-random source.
    struct Dice(u64);

    impl Dice {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }

        fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
            from[self.below(from.len() as u64) as usize]
        }
    }

    const WORDS: [&str; 12] = [
        "电动车",
        "起火",
        "楼道",
        "烟雾",
        "漏水",
        "噪声",
        "车祸",
        "老人",
        "晕倒",
        "燃气",
        "电动",
        "火",
    ];
    const NAMES: [&str; 6] = ["张先生", "王女士", "张晓", "李明", "zhang", "赵"];

    fn generated(count: u64) -> (tempfile::TempDir, Store, Vec<Incident>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), 8 << 20).expect("open");
        let mut dice = Dice(0x9E37_79B9_7F4A_7C15);
        let mut writes = WriteSet::default();
        let mut all = Vec::new();
        for id in 1..=count {
            // Ids grow with the day, as intake makes them.
            let day = 20_260_101 + id * 27 / count;
            let summary: Vec<&str> = (0..3).map(|_| dice.pick(&WORDS)).collect();
            let mut incident = crate::store::fixtures::incident(
                id,
                &format!("{day}-{id}"),
                &summary.join(if dice.below(2) == 0 { "" } else { "，" }),
                None,
            );
            incident.intake.caller_name = dice.pick(&NAMES).to_owned();
            incident.intake.caller_phone = format!("139{:04}{:04}", dice.below(3), dice.below(40));
            incident.intake.address = format!("幸福小区{}栋", dice.below(9));
            incident.intake.category = ["fire", "medical"][dice.below(2) as usize].into();
            if dice.below(3) == 0 {
                incident.notes.push(Note {
                    at: incident.created_at,
                    author: Principal::system(),
                    text: format!("回访：{}", dice.pick(&WORDS)),
                });
            }
            if dice.below(5) == 0 {
                incident.repeat_calls.push(RepeatCall {
                    at: incident.created_at,
                    source: incident.intake.source,
                    caller_name: "赵女士".into(),
                    caller_phone: format!("136{:04}{:04}", dice.below(2), dice.below(40)),
                    text: "又有焦味".into(),
                    taken_by: Principal::system(),
                });
            }
            if dice.below(4) == 0 {
                incident.phase = Phase::Cancelled;
            }
            writes.put_incident(None, &incident).expect("stage");
            all.push(incident);
        }
        writes
            .put_counter(Counter::IncidentId, count)
            .expect("counter");
        for day in 20_260_101..=20_260_128u64 {
            writes
                .put_counter(Counter::IncidentOfDay(&day.to_string()), 0)
                .expect("counter");
        }
        store.commit(&writes).expect("commit");
        while store.index_for_search(250).expect("index") {}
        (dir, store, all)
    }

    fn query(text: &str, phone: &str) -> Query {
        let runs: Vec<String> = runs(text)
            .into_iter()
            .map(|r| r.into_iter().collect())
            .collect();
        let latin = !text.is_empty() && text.chars().all(|c| c.is_ascii_alphabetic());
        Query {
            runs: runs
                .into_iter()
                .filter(|r| r.chars().count() >= 2)
                .collect(),
            initials: latin.then(|| text.to_ascii_lowercase()),
            phone_tail: (!phone.is_empty()).then(|| reversed_digits(phone)),
            filter: Filter::default(),
        }
    }

    /// Every page, 7 at a time.
    fn paged(store: &Store, query: &Query) -> Vec<u64> {
        let mut ids = Vec::new();
        let mut below = None;
        loop {
            let page = search(store, query, 7, below).expect("search");
            ids.extend(page.incidents.iter().map(|i| i.id));
            match page.next_below {
                Some(next) => below = Some(next),
                None => return ids,
            }
        }
    }

    fn scanned(all: &[Incident], query: &Query) -> Vec<u64> {
        all.iter()
            .rev()
            .filter(|i| query.matches(i))
            .map(|i| i.id)
            .collect()
    }

    #[test]
    fn every_search_finds_what_a_scan_finds_in_the_same_order() {
        let (_dir, store, all) = generated(600);
        let mut cases = vec![
            query("电动车", ""),
            query("起火 楼道", ""),
            query("电动", ""),
            query("回访", ""),
            query("幸福小区3栋", ""),
            query("zxs", ""),
            query("zhang", ""),
            query("", "00010012"),
            query("", "0012"),
            query("烟雾", "0001"),
            query("不存在的词", ""),
            // Repeat calls: their callers, numbers and words find the incident.
            query("焦味", ""),
            query("zns", ""),
            query("", "13600010007"),
        ];
        let mut fire_in_days = query("起火", "");
        fire_in_days.filter.from = Some("20260105".into());
        fire_in_days.filter.to = Some("20260111".into());
        fire_in_days.filter.category = Some("fire".into());
        cases.push(fire_in_days);
        let mut cancelled = query("", "");
        cancelled.filter.statuses = vec![Status::Cancelled];
        cancelled.filter.to = Some("20260103".into());
        cases.push(cancelled);
        for case in &cases {
            let expected = scanned(&all, case);
            assert_eq!(paged(&store, case), expected, "{case:?}");
        }
        let repeats = all.iter().filter(|i| !i.repeat_calls.is_empty()).count();
        assert_eq!(scanned(&all, &query("焦味", "")).len(), repeats);
        assert!(!scanned(&all, &query("", "13600010007")).is_empty());
        assert!(
            cases
                .iter()
                .filter(|c| !scanned(&all, c).is_empty())
                .count()
                >= 10,
            "the generated data exercises the cases"
        );
        // 电动车 holds 电动, never the other way round; a run is matched
        // whole, not as grams scattered over fields.
        let whole = query("电动车", "");
        assert!(scanned(&all, &query("电动", "")).len() > scanned(&all, &whole).len());
    }

    #[test]
    fn searches_are_whole_while_the_index_catches_up_with_new_and_changed_calls() {
        let (_dir, store, mut all) = generated(120);
        let smoke = query("烟雾", "");
        let expected = scanned(&all, &smoke);
        assert!(!expected.is_empty());

        // A store from before the index: nothing indexed, everything found.
        store.forget_search_index();
        assert_eq!(store.search_indexed_below().expect("progress"), 1);
        assert_eq!(paged(&store, &smoke), expected, "the tail, one by one");
        assert!(store.index_for_search(50).expect("a chunk"), "more to do");
        assert_eq!(store.search_indexed_below().expect("progress"), 51);
        assert_eq!(paged(&store, &smoke), expected, "half indexed");
        while store.index_for_search(50).expect("a chunk") {}
        assert_eq!(store.search_indexed_below().expect("progress"), 121);
        assert_eq!(paged(&store, &smoke), expected);

        // An old call gains a note after it was indexed: found at once
        // (marked changed), and still after the indexer has been by.
        let mut changed = all[9].clone();
        let before = changed.clone();
        changed.notes.push(Note {
            at: changed.created_at,
            author: Principal::system(),
            text: "群众再次来电称有积水".into(),
        });
        changed.last_seq += 1;
        let mut writes = WriteSet::default();
        writes.put_incident(Some(&before), &changed).expect("stage");
        store.commit(&writes).expect("commit");
        all[9] = changed;
        let water = query("积水", "");
        assert_eq!(paged(&store, &water), vec![10]);
        assert_eq!(store.search_dirty(10).expect("dirty"), vec![10]);
        while store.index_for_search(50).expect("a chunk") {}
        assert!(store.search_dirty(10).expect("dirty").is_empty());
        assert_eq!(paged(&store, &water), scanned(&all, &water));
    }
}
