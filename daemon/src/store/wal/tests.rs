use std::collections::BTreeMap;

use super::fs::CrashFs;
use super::*;

const STORE: &str = "0123456789abcdef0123456789abcdef";

fn dir() -> PathBuf {
    PathBuf::from("/store/wal")
}

fn open(fs: &CrashFs, applied: u64) -> Result<Opened> {
    Wal::open(Arc::new(fs.clone()), &dir(), STORE, applied, true, false)
}

/// A small deterministic generator (xorshift), so a failing cycle can be
/// run again from its seed.
fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed.max(1);
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

fn payload(lsn: u64, len: usize) -> Vec<u8> {
    (0..len).map(|i| (lsn as usize * 31 + i) as u8).collect()
}

#[test]
fn frames_read_back_in_order_across_segments_and_reopening() {
    let fs = CrashFs::default();
    let mut wal = open(&fs, 0).expect("open").wal;
    wal.set_segment_limit(300);
    for lsn in 1..=20u64 {
        assert_eq!(wal.append(lsn * 2, &payload(lsn, 50)).expect("append"), lsn);
    }
    assert!(wal.segment_count() > 3, "{} segments", wal.segment_count());
    drop(wal);
    let opened = open(&fs, 5).expect("reopen");
    assert!(opened.torn.is_none());
    let lsns: Vec<u64> = opened.replay.iter().map(|f| f.lsn).collect();
    assert_eq!(lsns, (6..=20).collect::<Vec<_>>());
    assert_eq!(opened.replay[0].seq, 12);
    assert_eq!(opened.replay[0].payload, payload(6, 50));
    // Each frame says where its payload is, as append said.
    let bytes = fs.bytes(&dir().join(segment_name(opened.replay[0].at.segment)));
    let at = opened.replay[0].at.offset as usize;
    assert_eq!(bytes.expect("segment")[at..at + 50], payload(6, 50)[..]);
    let mut wal = opened.wal;
    assert_eq!(wal.append(99, b"next").expect("append"), 21);
}

/// The power-cut harness: appends of random sizes, segments rolling,
/// and at a random operation the disk starts failing and the power goes.
/// Every frame whose append returned Ok must come back, byte for byte, in
/// order; the one frame in flight may or may not; nothing else appears.
#[test]
fn no_acknowledged_frame_is_lost_over_many_random_power_cuts() {
    let mut cuts = 0;
    let mut torn = 0;
    for seed in 1..=400u64 {
        let mut next = rng(seed);
        let fs = CrashFs::default();
        let mut acknowledged: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
        let mut applied = 0;
        for _cycle in 0..4 {
            let opened = open(&fs, applied).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            if opened.torn.is_some() {
                torn += 1;
            }
            // Everything acknowledged after `applied` replays, exactly.
            let replayed: BTreeMap<u64, Vec<u8>> = opened
                .replay
                .iter()
                .map(|f| (f.lsn, f.payload.clone()))
                .collect();
            for (lsn, bytes) in acknowledged.range(applied + 1..) {
                assert_eq!(
                    replayed.get(lsn),
                    Some(bytes),
                    "seed {seed}: acknowledged frame {lsn} lost or changed"
                );
            }
            let newest = acknowledged.keys().next_back().copied().unwrap_or(0);
            assert!(
                replayed.keys().all(|lsn| *lsn <= newest + 1),
                "seed {seed}: frames nobody wrote: {:?}",
                replayed.keys().collect::<Vec<_>>()
            );
            // The one in flight at the cut survived whole: it counts now.
            for frame in &opened.replay {
                acknowledged
                    .entry(frame.lsn)
                    .or_insert(frame.payload.clone());
            }
            let mut wal = opened.wal;
            wal.set_segment_limit(600 + next() % 2000);
            fs.fail_after((next() % 60) as usize);
            loop {
                let lsn = wal.next_lsn();
                let bytes = payload(lsn, (next() % 700) as usize);
                match wal.append(lsn, &bytes) {
                    Ok(got) => {
                        assert_eq!(got, lsn);
                        acknowledged.insert(lsn, bytes);
                    }
                    Err(_) => break,
                }
                if next().is_multiple_of(5) {
                    // The state made durable up to some acknowledged frame.
                    applied = applied.max(applied + next() % (lsn - applied + 1));
                }
            }
            fs.crash(&mut next);
            cuts += 1;
        }
    }
    println!("{cuts} power cuts, {torn} torn tails cut, no acknowledged frame lost");
    assert!(torn > 20, "the harness must actually tear frames ({torn})");
}

fn three_frames(fs: &CrashFs) -> PathBuf {
    let mut wal = open(fs, 0).expect("open").wal;
    for lsn in 1..=3u64 {
        wal.append(lsn + 100, &payload(lsn, 40)).expect("append");
    }
    dir().join(segment_name(1))
}

#[test]
fn a_torn_last_frame_is_cut_and_kept_for_inspection() {
    let fs = CrashFs::default();
    let path = three_frames(&fs);
    let mut bytes = fs.bytes(&path).expect("segment");
    // Cut into the last frame (the zeros after it are the segment kept
    // ready, not data).
    let end = bytes.iter().rposition(|byte| *byte != 0).expect("frames") + 1;
    bytes.truncate(end - 10);
    fs.set_bytes(&path, bytes);
    let opened = open(&fs, 0).expect("open");
    let torn = opened.torn.expect("torn");
    assert_eq!(torn.lsn, 3);
    assert_eq!(torn.bytes, FRAME_HEADER + 40 - 10);
    assert!(fs.bytes(&torn.kept_in).is_some(), "kept");
    assert_eq!(opened.replay.len(), 2);
    assert_eq!(opened.wal.next_lsn(), 3);
}

#[test]
fn damage_before_the_last_frame_is_refused_naming_frame_and_seq() {
    let fs = CrashFs::default();
    let path = three_frames(&fs);
    let mut bytes = fs.bytes(&path).expect("segment");
    // Inside frame 2's payload.
    let at = HEADER_LEN + (FRAME_HEADER + 40) + FRAME_HEADER + 5;
    bytes[at] ^= 0xff;
    fs.set_bytes(&path, bytes.clone());
    let error = open(&fs, 0).err().expect("refused").to_string();
    assert!(error.contains("frame 2"), "{error}");
    assert!(error.contains("after seq 101"), "{error}");
    assert!(error.contains("frame 3 (seq 103)"), "{error}");
    assert!(error.contains("recover --accept-loss"), "{error}");
    // Nothing was cut.
    assert_eq!(fs.bytes(&path), Some(bytes));
}

#[test]
fn a_state_ahead_of_the_journal_is_refused() {
    let fs = CrashFs::default();
    three_frames(&fs);
    let error = open(&fs, 7).err().expect("refused").to_string();
    assert!(error.contains("ends at frame 3"), "{error}");
    assert!(error.contains("lost its last 4 frames"), "{error}");
}

/// Twelve frames in segments of 200 bytes; the segments' names, in order.
fn twelve_frames_in_small_segments(fs: &CrashFs) -> Vec<String> {
    let mut wal = open(fs, 0).expect("open").wal;
    wal.set_segment_limit(200);
    for lsn in 1..=12u64 {
        wal.append(lsn, &payload(lsn, 60)).expect("append");
    }
    let mut names = fs.list(&dir()).expect("list");
    names.sort();
    names
}

#[test]
fn missing_segments_are_refused() {
    let fs = CrashFs::default();
    let names = twelve_frames_in_small_segments(&fs);
    assert!(names.len() >= 3);
    // A segment in the middle goes missing.
    fs.remove(&dir().join(&names[1])).expect("remove");
    let error = open(&fs, 0).err().expect("refused").to_string();
    assert!(error.contains("are missing"), "{error}");
    // The journal starting after the state it must replay into.
    fs.remove(&dir().join(&names[0])).expect("remove");
    let error = open(&fs, 0).err().expect("refused").to_string();
    assert!(error.contains("frames 1 to"), "{error}");
}

#[test]
fn a_journal_of_another_store_or_none_at_all_is_refused() {
    let fs = CrashFs::default();
    three_frames(&fs);
    let error = Wal::open(
        Arc::new(fs.clone()),
        &dir(),
        "ffffffffffffffffffffffffffffffff",
        0,
        true,
        false,
    )
    .err()
    .expect("refused")
    .to_string();
    assert!(error.contains("another store"), "{error}");
    let empty = CrashFs::default();
    let error = Wal::open(Arc::new(empty), &dir(), STORE, 40, false, false)
        .err()
        .expect("refused")
        .to_string();
    assert!(error.contains("no segments"), "{error}");
}

#[test]
fn after_a_failed_write_nothing_more_is_appended() {
    let fs = CrashFs::default();
    let mut wal = open(&fs, 0).expect("open").wal;
    wal.append(1, b"one").expect("append");
    fs.fail_after(0);
    assert!(wal.append(2, b"two").is_err());
    fs.crash(&mut rng(3));
    assert!(wal.append(3, b"three").is_err(), "still broken");
    let opened = open(&fs, 0).expect("reopen");
    assert_eq!(opened.replay.len(), 1);
}

/// A segment created but never written (the disk full, or the power gone,
/// before its header was synced) is removed at open; the one before it is
/// appended to after its last frame, never over its header or frames —
/// even when the state's checkpoint would let open skip reading it.
#[test]
fn an_unfinished_newest_segment_never_makes_open_write_over_the_one_before() {
    let fs = CrashFs::default();
    let names = twelve_frames_in_small_segments(&fs);
    let newest = names.last().expect("segments").clone();
    let newest_first: u64 = newest.trim_end_matches(".wal").parse().expect("lsn");
    fs.set_bytes(&dir().join(&newest), Vec::new());
    let mut wal = open(&fs, newest_first - 1).expect("reopen").wal;
    assert_eq!(wal.next_lsn(), newest_first);
    wal.append(99, b"after").expect("append");
    drop(wal);
    let opened = open(&fs, 0).expect("reopen whole");
    let lsns: Vec<u64> = opened.replay.iter().map(|f| f.lsn).collect();
    assert_eq!(lsns, (1..=newest_first).collect::<Vec<_>>());
    assert_eq!(opened.replay[0].payload, payload(1, 60));
}
