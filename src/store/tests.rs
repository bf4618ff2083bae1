//! Tests of the results store, each in its own temporary folder.

use super::*;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

/// A temporary folder, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("nasc-store-{}-{name}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }

    fn db(&self) -> PathBuf {
        self.0.join("sub").join("store.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn new_run(store: &Store, file: &str, space: &str) -> i64 {
    store
        .create_run(
            file,
            space,
            "abc123",
            "space S {}",
            u64::MAX - 1,
            &json!({"layers": [1, 2]}),
        )
        .unwrap()
}

fn trial(run: i64, seq: i64, hash: &str) -> TrialRow {
    TrialRow {
        run,
        seq,
        layer: 0,
        hash: hash.to_string(),
        steps: 100,
        seed: 7,
        assignment: json!({"width": 64}),
        arch: json!({"layers": ["dense"]}),
        status: TrialStatus::Running,
        reason: None,
        metrics: BTreeMap::new(),
        report: None,
        reused_from: None,
        owner: None,
        started: None,
        heartbeat: None,
        finished: None,
        wall_s: 0.0,
    }
}

fn alive(_: &str, _: f64) -> bool {
    false
}

fn dead(_: &str, _: f64) -> bool {
    true
}

#[test]
fn runs_are_created_listed_and_finished() {
    let dir = TempDir::new("runs");
    let store = Store::open(&dir.db()).unwrap();
    assert_eq!(store.path(), dir.db());
    let a = new_run(&store, "/x/a.nas", "S");
    let b = new_run(&store, "/x/b.nas", "T");
    assert_eq!((a, b), (1, 2));
    let info = store.run(a).unwrap().unwrap();
    assert_eq!(info.file, "/x/a.nas");
    assert_eq!(info.seed, u64::MAX - 1);
    assert_eq!(info.plan, json!({"layers": [1, 2]}));
    assert_eq!(info.status, RunStatus::Running);
    assert_eq!((info.finished, info.result), (None, None));
    assert_eq!(store.run(99).unwrap(), None);

    assert_eq!(store.latest_unfinished(None, None).unwrap().unwrap().id, b);
    assert_eq!(
        store
            .latest_unfinished(Some("/x/a.nas"), None)
            .unwrap()
            .unwrap()
            .id,
        a
    );
    assert_eq!(
        store
            .latest_unfinished(Some("/x/a.nas"), Some("S"))
            .unwrap()
            .unwrap()
            .id,
        a
    );
    assert_eq!(
        store
            .latest_unfinished(Some("/x/a.nas"), Some("T"))
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .latest_unfinished(None, Some("T"))
            .unwrap()
            .unwrap()
            .id,
        b
    );

    assert_eq!(
        store.claim(&trial(a, 0, "h0"), "me:1", &alive).unwrap(),
        Claim::Mine
    );
    assert_eq!(
        store.claim(&trial(a, 1, "h1"), "me:1", &alive).unwrap(),
        Claim::Mine
    );
    let mut failed = trial(a, 1, "h1");
    failed.status = TrialStatus::Failed;
    failed.reason = Some("diverged".into());
    assert!(store.finish_trial(&failed, "me:1").unwrap());
    store
        .record_layer(&LayerRow {
            run: a,
            index: 0,
            strategy: "random".into(),
            args: json!({}),
            filter: String::new(),
            input: vec![],
            output: vec![],
            stats: json!({}),
            cost_s: 0.0,
            finished: now(),
        })
        .unwrap();
    let runs = store.runs().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].info, store.run(a).unwrap().unwrap());
    assert_eq!(
        (
            runs[0].trials,
            runs[0].finished_trials,
            runs[0].failed_trials,
            runs[0].layers_done
        ),
        (2, 1, 1, 1)
    );
    assert_eq!(
        (
            runs[1].trials,
            runs[1].finished_trials,
            runs[1].failed_trials,
            runs[1].layers_done
        ),
        (0, 0, 0, 0)
    );

    store
        .finish_run(b, RunStatus::Done, &json!({"best": "h0"}))
        .unwrap();
    let info = store.run(b).unwrap().unwrap();
    assert_eq!(info.status, RunStatus::Done);
    assert_eq!(info.result, Some(json!({"best": "h0"})));
    assert!(info.finished.is_some());
    assert_eq!(store.latest_unfinished(None, None).unwrap().unwrap().id, a);
    store
        .finish_run(a, RunStatus::Failed, &json!("out of memory"))
        .unwrap();
    assert_eq!(store.latest_unfinished(None, None).unwrap(), None);
    assert!(store
        .finish_run(a, RunStatus::Running, &json!(null))
        .is_err());
    assert!(store.finish_run(42, RunStatus::Done, &json!(null)).is_err());
}

#[test]
fn claims_are_exclusive_and_finished_trials_come_back() {
    let dir = TempDir::new("claim");
    let store = Store::open(&dir.db()).unwrap();
    let run = new_run(&store, "/a.nas", "S");
    let row = trial(run, 0, "0123456789abcdef0123456789abcdef");
    assert_eq!(store.claim(&row, "me:1", &alive).unwrap(), Claim::Mine);
    assert_eq!(store.claim(&row, "me:1", &alive).unwrap(), Claim::Mine);
    assert_eq!(
        store.claim(&row, "you:2", &alive).unwrap(),
        Claim::Taken {
            owner: "me:1".into()
        }
    );
    let held = store.trial(run, 0).unwrap().unwrap();
    assert_eq!(
        (held.status, held.owner.as_deref()),
        (TrialStatus::Running, Some("me:1"))
    );
    assert!(held.started.is_some() && held.heartbeat.is_some());
    assert!(held.metrics.is_empty());
    store.heartbeat(run, 0, "me:1").unwrap();
    store.heartbeat(run, 0, "you:2").unwrap();

    let mut done = row.clone();
    done.status = TrialStatus::Ok;
    done.metrics = [
        ("val_loss".to_string(), 0.25),
        ("acc".into(), 0.9),
        ("bad".into(), f64::NAN),
    ]
    .into();
    done.report = Some(json!({"curve": [1.0, 0.5, 0.25]}));
    done.wall_s = 1.5;
    assert!(!store.finish_trial(&done, "you:2").unwrap());
    assert!(store.finish_trial(&done, "me:1").unwrap());
    assert!(!store.finish_trial(&done, "me:1").unwrap());
    let Claim::Finished(got) = store.claim(&row, "you:2", &dead).unwrap() else {
        panic!("not finished")
    };
    assert_eq!(got.status, TrialStatus::Ok);
    assert_eq!(
        got.metrics,
        [("val_loss".to_string(), 0.25), ("acc".into(), 0.9)].into()
    );
    assert_eq!(got.report, done.report);
    assert_eq!(got.wall_s, 1.5);
    assert!(got.finished.is_some());
    assert_eq!(store.trials(run).unwrap(), vec![*got]);

    // A dead owner's trial is taken over; the old owner can no longer finish it.
    let second = trial(run, 1, "ff");
    assert_eq!(store.claim(&second, "old:3", &alive).unwrap(), Claim::Mine);
    assert_eq!(store.claim(&second, "new:4", &dead).unwrap(), Claim::Mine);
    assert_eq!(
        store.trial(run, 1).unwrap().unwrap().owner.as_deref(),
        Some("new:4")
    );
    let mut finished = second.clone();
    finished.status = TrialStatus::Failed;
    finished.reason = Some("nan loss".into());
    assert!(!store.finish_trial(&finished, "old:3").unwrap());
    assert!(store.finish_trial(&finished, "new:4").unwrap());
    assert_eq!(
        store.trial(run, 1).unwrap().unwrap().reason.as_deref(),
        Some("nan loss")
    );
    assert_eq!(store.trial(run, 5).unwrap(), None);
}

#[test]
fn a_changed_trial_is_refused() {
    let dir = TempDir::new("changed");
    let store = Store::open(&dir.db()).unwrap();
    let run = new_run(&store, "/a.nas", "S");
    assert_eq!(
        store
            .claim(&trial(run, 0, "aaaaaaaaaaaaaaaaaaaa"), "me:1", &alive)
            .unwrap(),
        Claim::Mine
    );
    let mut other = trial(run, 0, "bbbbbbbbbbbbbbbbbbbb");
    other.steps = 200;
    let err = store.claim(&other, "me:1", &alive).unwrap_err();
    assert!(
        err.0
            .contains("trial 0 of run 1 was aaaaaaaaaaaa at 100 steps"),
        "{err}"
    );
    assert!(
        err.0.contains("now asks for bbbbbbbbbbbb at 200 steps"),
        "{err}"
    );
    assert_eq!(
        store.trial(run, 0).unwrap().unwrap().hash,
        "aaaaaaaaaaaaaaaaaaaa"
    );
}

#[test]
fn two_connections_racing_claim_each_trial_once() {
    let dir = TempDir::new("race");
    let path = dir.db();
    let run = new_run(&Store::open(&path).unwrap(), "/a.nas", "S");
    let barrier = Arc::new(Barrier::new(2));
    let workers: Vec<_> = ["a:1", "b:2"]
        .into_iter()
        .map(|owner| {
            let (path, barrier) = (path.clone(), barrier.clone());
            std::thread::spawn(move || {
                let store = Store::open(&path).unwrap();
                barrier.wait();
                (0..50)
                    .filter(|&seq| {
                        store.claim(&trial(run, seq, "h"), owner, &alive).unwrap() == Claim::Mine
                    })
                    .collect::<Vec<i64>>()
            })
        })
        .collect();
    let mine: Vec<Vec<i64>> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let mut all: Vec<i64> = mine.concat();
    all.sort();
    assert_eq!(all, (0..50).collect::<Vec<_>>());
    let store = Store::open(&path).unwrap();
    for t in store.trials(run).unwrap() {
        let owner = if mine[0].contains(&t.seq) {
            "a:1"
        } else {
            "b:2"
        };
        assert_eq!(t.owner.as_deref(), Some(owner));
    }
}

#[test]
fn bad_files_are_errors() {
    let dir = TempDir::new("bad");
    std::fs::create_dir_all(&dir.0).unwrap();
    let garbage = dir.0.join("garbage.db");
    std::fs::write(
        &garbage,
        [0x5au8; 4096]
            .iter()
            .chain(b"not sqlite at all")
            .copied()
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    let err = Store::open(&garbage).err().unwrap();
    assert!(err.0.starts_with("cannot open `"), "{err}");

    let newer = dir.db();
    drop(Store::open(&newer).unwrap());
    Connection::open(&newer)
        .unwrap()
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    let err = Store::open(&newer).err().unwrap();
    assert!(err.0.contains("newer nasc"), "{err}");

    let foreign = dir.0.join("foreign.db");
    Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE t (x)")
        .unwrap();
    let err = Store::open(&foreign).err().unwrap();
    assert!(err.0.contains("not a nasc store"), "{err}");
}

#[test]
fn reopening_keeps_everything() {
    let dir = TempDir::new("reopen");
    let run = new_run(&Store::open(&dir.db()).unwrap(), "/a.nas", "S");
    let store = Store::open(&dir.db()).unwrap();
    assert_eq!(store.run(run).unwrap().unwrap().source, "space S {}");
    assert!(
        store
            .claim(&trial(run + 1, 0, "h"), "me:1", &alive)
            .is_err(),
        "a trial of no run"
    );
}

#[test]
fn keys_and_layers() {
    let dir = TempDir::new("layers");
    let store = Store::open(&dir.db()).unwrap();
    let run = new_run(&store, "/a.nas", "S");
    for (seq, hash) in [(0, "x"), (1, "y"), (2, "x"), (3, "x")] {
        store.claim(&trial(run, seq, hash), "me:1", &alive).unwrap();
    }
    assert_eq!(store.first_with_key(run, "x", 100, 3).unwrap(), Some(0));
    assert_eq!(store.first_with_key(run, "x", 100, 0).unwrap(), None);
    assert_eq!(store.first_with_key(run, "y", 100, 9).unwrap(), Some(1));
    assert_eq!(store.first_with_key(run, "x", 50, 9).unwrap(), None);
    assert_eq!(store.first_with_key(run + 1, "x", 100, 9).unwrap(), None);

    let mut layer = LayerRow {
        run,
        index: 1,
        strategy: "random".into(),
        args: json!({"n": 8}),
        filter: "keep top 3 by val_loss".into(),
        input: vec!["x".into(), "y".into()],
        output: vec!["x".into()],
        stats: json!({"trained": 2, "reused": 1}),
        cost_s: 12.5,
        finished: 1000.25,
    };
    let mut first = layer.clone();
    first.index = 0;
    store.record_layer(&layer).unwrap();
    store.record_layer(&first).unwrap();
    layer.cost_s = 13.0;
    store.record_layer(&layer).unwrap();
    assert_eq!(store.layers(run).unwrap(), vec![first, layer]);
    assert_eq!(store.layers(run + 1).unwrap(), vec![]);
}

#[test]
fn stores_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Store>();
}

#[test]
fn owners_die() {
    let me = owner_id();
    assert!(me.ends_with(&format!(":{}", std::process::id())));
    assert!(!is_dead(&me, now(), 60.0));
    let (host, _) = me.rsplit_once(':').unwrap();
    if cfg!(target_os = "linux") {
        assert!(is_dead(&format!("{host}:999999999"), now(), 60.0));
        // A heartbeat from before this process began was another process's: the pid was reused.
        assert!(is_dead(&me, now() - 365.0 * 86400.0, 60.0));
        // A child that has ended but is not reaped yet (a worker killed by a signal while
        // the run goes on) is a zombie /proc still lists: it is dead, its claims free.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let owner = format!("{host}:{}", child.id());
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !is_dead(&owner, now(), 60.0) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            is_dead(&owner, now(), 60.0),
            "an ended, unreaped child is dead"
        );
        child.wait().unwrap();
    }
    assert!(is_dead("elsewhere.example:12", now() - 120.0, 60.0));
    assert!(!is_dead("elsewhere.example:12", now() - 5.0, 60.0));
    assert!(is_dead("no pid here", now() - 120.0, 60.0));
    assert!(!is_dead("no pid here", now(), 60.0));
}

/// A store opened for reading reads what a run wrote, writes nothing (a write through it
/// fails), creates no file for a path that has none, and refuses what is not a store it
/// can read.
#[test]
fn a_store_opened_for_reading_reads_and_writes_nothing() {
    let dir = TempDir::new("read-only");
    let path = dir.db();
    let run = new_run(&Store::open(&path).unwrap(), "/a.nas", "S");
    let reader = Store::open_read_only(&path).unwrap();
    assert_eq!(reader.run(run).unwrap().unwrap().source, "space S {}");
    assert_eq!(reader.runs().unwrap().len(), 1);
    let err = reader
        .create_run("/b.nas", "S", "h", "space S {}", 1, &json!({}))
        .expect_err("a read-only store refuses a write");
    assert!(err.0.contains("readonly"), "{err}");
    drop(reader);
    assert_eq!(Store::open(&path).unwrap().runs().unwrap().len(), 1);

    let missing = dir.0.join("missing").join("store.db");
    assert!(Store::open_read_only(&missing).is_err());
    assert!(!missing.exists() && !dir.0.join("missing").exists());

    let empty = dir.0.join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let err = Store::open_read_only(&empty).err().unwrap();
    assert!(err.0.contains("not a nasc store"), "{err}");
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    let err = Store::open_read_only(&path).err().unwrap();
    assert!(err.0.contains("newer nasc"), "{err}");
}

/// A path with the characters a `file:` URI gives a meaning to is opened as itself.
#[test]
fn a_store_path_with_uri_characters_opens_for_reading() {
    let dir = TempDir::new("uri");
    let odd = dir.0.join("a dir?x=1#é%20");
    std::fs::create_dir_all(&odd).unwrap();
    let path = odd.join("store.db");
    new_run(&Store::open(&path).unwrap(), "/a.nas", "S");
    let reader = Store::open_read_only(&path).unwrap();
    assert_eq!(reader.runs().unwrap().len(), 1);
}
