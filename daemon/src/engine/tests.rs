//! Engine-level tests: commands straight into the writer, no gRPC, no timer,
//! on a temporary store and a manual clock.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};

use super::command::{Command, DispatchTo, Outcome};
use super::{Engine, EngineOptions};
use crate::auth::principal::Principal;
use crate::clock::ManualClock;
use crate::directory::model::{Category, Post, PostMode};
use crate::escalation::policy::DEFAULT_POLICY;
use crate::incidents::model::{
    AssigneeRef, AssignmentAction, AssignmentRole, AssignmentSelector, Incident, Intake, Severity,
    Source,
};
use crate::store::Store;

struct Fixture {
    engine: Engine,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

fn t0() -> Timestamp {
    "2026-11-23T01:00:00Z".parse().expect("timestamp")
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), 8 << 20).expect("store");
    let clock = Arc::new(ManualClock::new(t0()));
    let zone = jiff::tz::TimeZone::get("Asia/Shanghai").expect("zone");
    let engine =
        Engine::start(store, clock.clone(), zone, EngineOptions::default()).expect("engine");
    let fixture = Fixture {
        engine,
        clock,
        _dir: dir,
    };
    fixture
        .run(Command::SetPolicy {
            text: DEFAULT_POLICY.into(),
            expected_version: None,
        })
        .await;
    fixture
        .run(Command::CreateCategory(Category {
            code: "fire".into(),
            name_zh: "火灾".into(),
            name_en: String::new(),
            default_unit_ids: vec![],
            retired: false,
            created_at: t0(),
            updated_at: t0(),
        }))
        .await;
    fixture
        .run(Command::CreatePost(Post {
            id: "xinhua".into(),
            name: "新华街道指挥部".into(),
            district: String::new(),
            responsible_leader_id: None,
            contact: String::new(),
            mode: PostMode::Normal,
            mode_reason: None,
            mode_since: None,
            retired: false,
            created_at: t0(),
            updated_at: t0(),
        }))
        .await;
    fixture
}

impl Fixture {
    async fn run(&self, command: Command) -> Outcome {
        self.engine
            .submit(Principal::system(), None, command)
            .await
            .expect("command succeeds")
    }

    async fn dispatched(&self) -> Incident {
        let outcome = self
            .run(Command::CreateIncident {
                intake: Intake {
                    source: Source::Police110,
                    caller_name: String::new(),
                    caller_phone: String::new(),
                    address: "新华路".into(),
                    place_id: None,
                    category: "fire".into(),
                    severity: Severity::II,
                    summary: "冒烟".into(),
                    tags: vec![],
                    drill: false,
                },
                dispatch: vec![DispatchTo {
                    assignee: AssigneeRef::post("xinhua"),
                    role: AssignmentRole::Lead,
                }],
            })
            .await;
        let Outcome::Incident { incident, .. } = outcome else {
            panic!("not an incident: {outcome:?}");
        };
        *incident
    }

    async fn fire(&self) -> usize {
        match self.run(Command::FireDue).await {
            Outcome::Fired { alarms } => alarms,
            other => panic!("not fired: {other:?}"),
        }
    }

    fn sign(number: &str) -> Command {
        Command::Step {
            incident: number.into(),
            selector: Some(AssignmentSelector::Id(1)),
            action: AssignmentAction::SignFor,
            note: String::new(),
        }
    }
}

#[tokio::test]
async fn a_sign_for_committed_first_wins_the_race_with_the_deadline() {
    let fixture = fixture().await;
    let incident = fixture.dispatched().await;
    // Both arrive once the deadline has passed; the sign-for is queued first.
    fixture.clock.advance(SignedDuration::from_secs(61));
    let signed = fixture
        .engine
        .submit(Principal::system(), None, Fixture::sign(&incident.number));
    let fired = fixture
        .engine
        .submit(Principal::system(), None, Command::FireDue);
    let (signed, fired) = tokio::join!(signed, fired);
    signed.expect("signed");
    assert!(
        matches!(fired, Ok(Outcome::Fired { alarms: 0 })),
        "{fired:?}"
    );
}

#[tokio::test]
async fn a_deadline_fires_exactly_once() {
    let fixture = fixture().await;
    fixture.dispatched().await;
    fixture.clock.advance(SignedDuration::from_secs(61));
    assert_eq!(fixture.fire().await, 1);
    assert_eq!(fixture.fire().await, 0, "already fired");
    assert_eq!(
        fixture
            .engine
            .next_deadline()
            .expect("read")
            .map(|t| t > fixture.clock_now()),
        Some(true)
    );
}

#[tokio::test]
async fn the_deadline_fired_first_then_the_sign_for_stops_the_ladder() {
    let fixture = fixture().await;
    let incident = fixture.dispatched().await;
    fixture.clock.advance(SignedDuration::from_secs(61));
    assert_eq!(fixture.fire().await, 1);
    fixture.run(Fixture::sign(&incident.number)).await;
    // Level 2 of the sign-for clock would be at 6 minutes: nothing fires
    // except the arrival clock (5 minutes).
    fixture.clock.advance(SignedDuration::from_mins(10));
    assert_eq!(fixture.fire().await, 1, "only the arrival alarm");
}

impl Fixture {
    fn clock_now(&self) -> Timestamp {
        use crate::clock::Clock;
        self.clock.now()
    }
}

/// Issue 13: a panic in the writer thread used to leave dutyd SERVING with
/// every write failing. It now takes the fatal path (what the server turns
/// into NOT_SERVING and an exit), and the caller whose command was in hand
/// hears that it may have been recorded, not that nothing was.
#[tokio::test]
async fn a_writer_panic_takes_the_fatal_path_and_says_maybe() {
    let fixture = fixture().await;
    let fatal = fixture.engine.fatal();
    assert!(fixture.engine.fatal_reason().is_none());
    fixture
        .engine
        .shared
        .panic_next_batch
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let answer = fixture
        .engine
        .submit(Principal::system(), None, Command::FireDue)
        .await;
    let Err(crate::error::Error::Unavailable(message)) = answer else {
        panic!("{answer:?}");
    };
    assert!(message.contains("may have been recorded"), "{message}");
    tokio::time::timeout(std::time::Duration::from_secs(10), fatal.cancelled())
        .await
        .expect("the engine turns fatal");
    assert!(
        fixture
            .engine
            .fatal_reason()
            .is_some_and(|r| r.contains("panicked")),
        "{:?}",
        fixture.engine.fatal_reason()
    );
    // Later writes are refused plainly: they were never written.
    let later = fixture
        .engine
        .submit(Principal::system(), None, Command::FireDue)
        .await;
    assert!(
        matches!(&later, Err(crate::error::Error::Unavailable(m)) if m.contains("nothing was recorded")),
        "{later:?}"
    );
}

/// Worked by hand: severity II gives 1 minute to sign for and 5 to arrive.
/// Signed for after 40 s (in time); on scene after 7 minutes, once the
/// arrival clock had raised its alarm (late, overdue).
#[tokio::test]
async fn a_day_rollup_gathers_each_clock_as_it_stops_in_the_same_batch() {
    use crate::store::Reader;
    let fixture = fixture().await;
    let incident = fixture.dispatched().await;
    fixture.clock.advance(SignedDuration::from_secs(40));
    fixture.run(Fixture::sign(&incident.number)).await;
    fixture.clock.advance(SignedDuration::from_secs(380));
    assert!(fixture.fire().await >= 1, "the arrival clock's alarm");
    fixture
        .run(Command::Step {
            incident: incident.number.clone(),
            selector: Some(AssignmentSelector::Id(1)),
            action: AssignmentAction::Arrive,
            note: String::new(),
        })
        .await;
    let store = fixture.engine.store();
    let xinhua = AssigneeRef::post("xinhua");
    let day = store
        .assessment_day(incident.day(), false, &xinhua)
        .expect("read")
        .expect("a rollup for the day");
    assert_eq!(day.clocks.sign_for.times.count(), 1);
    assert_eq!(day.clocks.sign_for.times.percentile(50.0), Some(40));
    assert_eq!(
        (day.clocks.sign_for.within, day.clocks.sign_for.overdue),
        (1, 0)
    );
    assert_eq!(day.clocks.arrive.times.count(), 1);
    assert_eq!(day.clocks.arrive.times.max(), 420);
    assert_eq!(
        (day.clocks.arrive.within, day.clocks.arrive.overdue),
        (0, 1)
    );
    assert_eq!(day.clocks.resolve.times.count(), 0, "not resolved yet");
    assert_eq!(day.orders, 1);
    // The incident's slice counts it once, with the same clocks.
    let [slice, ..] = crate::assessment::Slice::of(&incident, &jiff::tz::TimeZone::UTC);
    let slice_day = store
        .assessment_slice_day(incident.day(), false, &slice)
        .expect("read")
        .expect("the slice's day");
    assert_eq!((slice_day.created, slice_day.orders), (1, 1));
    assert_eq!(slice_day.clocks.arrive.times.max(), 420);
    let mut seen = Vec::new();
    store
        .assessment_days(
            incident.day(),
            incident.day(),
            |_, _| true,
            |rollup| seen.push(rollup),
        )
        .expect("scan");
    assert_eq!(seen.len(), 6, "one post and five slices: {seen:?}");
    // Drills are kept apart: none here.
    assert!(
        store
            .assessment_day(incident.day(), true, &xinhua)
            .expect("read")
            .is_none()
    );
}

/// Issue 15: a replay read from the board snapshots shows exactly the board
/// folded from scratch, at every record, and the snapshots follow the
/// journal only as far as it is durable.
#[tokio::test]
async fn replays_from_snapshots_match_the_board_folded_from_scratch() {
    use crate::history::replay::{Moment, board_change, incident_at, replay};
    let fixture = fixture().await;
    let mut numbers = Vec::new();
    for n in 0..9 {
        let incident = fixture.dispatched().await;
        if n % 2 == 0 {
            fixture.run(Fixture::sign(&incident.number)).await;
        }
        if n % 3 == 0 {
            fixture
                .run(Command::Cancel {
                    incident: incident.number.clone(),
                    reason: "重复".into(),
                })
                .await;
        }
        fixture.clock.advance(SignedDuration::from_mins(3));
        fixture.fire().await;
        numbers.push(incident.id);
    }
    let store = fixture.engine.store();
    let durable = fixture.engine.durable_seq();
    // None past what is durable.
    assert!(
        !store
            .snapshot_board(0, 4, board_change)
            .expect("nothing yet")
    );
    while store
        .snapshot_board(durable, 4, board_change)
        .expect("snapshot")
    {}
    let last = store
        .board_snapshot_at_seq(durable)
        .expect("read")
        .expect("built");
    assert!(last.seq > durable - 4 && last.seq <= durable);
    // Apart from the indexes: among them, the newest (big) snapshot shared
    // a sled node with the outbox's keys and every text sent rewrote it.
    assert_eq!(
        store.raw_tree().scan_prefix(b"xB").count(),
        0,
        "board snapshots are kept among the indexes"
    );
    let system = Principal::system();
    for seq in 1..=durable {
        let replayed = replay(store, &system, Moment::Seq(seq), durable).expect("replay");
        let shown: Vec<u64> = replayed.incidents.iter().map(|i| i.id).collect();
        let folded: Vec<u64> = numbers
            .iter()
            .copied()
            .filter(|id| {
                incident_at(store, *id, seq)
                    .expect("fold")
                    .is_some_and(|(i, _)| {
                        i.status().is_open()
                            || i.status() == crate::incidents::model::Status::Resolved
                    })
            })
            .collect();
        assert_eq!(shown, folded, "after record {seq}");
    }
}

/// Issue 15: stepping says when the caller's next event lies further than a
/// step looks, rather than that the board is the live one.
#[tokio::test]
async fn a_step_that_looks_too_short_says_so_instead_of_live() {
    use crate::auth::principal::Role;
    use crate::history::replay::next_after;
    let fixture = fixture().await;
    let first = fixture.dispatched().await;
    let mut last = first.clone();
    for _ in 0..6 {
        last = fixture.dispatched().await;
    }
    let store = fixture.engine.store();
    let durable = fixture.engine.durable_seq();
    let centre = Principal::system();
    // The centre's next event is the very next record.
    let after_first = *first.seqs.last().expect("its records");
    assert_eq!(
        next_after(store, &centre, after_first, durable, 4)
            .expect("step")
            .0,
        after_first + 1
    );
    // A post with no events at all: nothing within 4 records, more beyond.
    let stranger = Principal {
        role: Role::Post("qianjin".into()),
        ..Principal::system()
    };
    assert_eq!(
        next_after(store, &stranger, after_first, durable, 4).expect("step"),
        (0, true)
    );
    // Looking all the way: nothing, and nothing beyond (the board is live).
    assert_eq!(
        next_after(store, &stranger, after_first, durable, durable).expect("step"),
        (0, false)
    );
    assert!(last.seqs.last().is_some_and(|s| *s <= durable));
}
