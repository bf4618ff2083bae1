//! End-to-end tests of `nasc run`, `nasc runs`, `nasc show` and `nasc export` on the real
//! binary, with real (tiny) training: a run killed part-way and resumed ends as an
//! uninterrupted one does, with every trial once; two processes resuming one run share
//! its trials; repeated architectures are trained once; store failures are `E038`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{nasc, temp_dir};
use nasc::store::{RunStatus, Store, TrialRow, TrialStatus};

/// A space of four architectures on the shipped corpus with `pipeline`, written to `dir`.
fn space(dir: &Path, pipeline: &str, objective: &str) -> String {
    let src = format!(
        "import std.transformer.{{ attention, ffn, pre_norm }}
space tiny {{
    param width = choice(8, 16)
    param layers = range(1, 2)
    graph {{
        embedding(vocab = data.vocab, dim = width)
        repeat layers {{
            pre_norm(attention(heads = 2, kind = softmax))
            pre_norm(ffn(hidden = 2 * width, activation = gelu))
        }}
        layer_norm()
        lm_head(vocab = data.vocab, tied = true)
    }}
    data = text_corpus(\"tiny_shakespeare\", context = 16)
    train {{ batch = 4, eval_every = 1000, eval_batches = 1, optimizer = adamw(lr = 3e-3) }}
    {objective}
    pipeline {{
        {pipeline}
    }}
}}"
    );
    let path = dir.join("tiny.nas");
    std::fs::write(&path, src).expect("temporary file");
    path.display().to_string()
}

const PIPELINE: &str = "random(samples = 10, steps = 12) |> keep top 2 by val_loss
        final(steps = 20)";

fn store_arg(dir: &Path) -> String {
    dir.join("store.db").display().to_string()
}

fn trials(store: &str, run: i64) -> Vec<TrialRow> {
    Store::open(Path::new(store))
        .expect("store opens")
        .trials(run)
        .expect("trials read")
}

/// Starts `nasc run` in the background.
fn spawn(args: &[&str]) -> std::process::Child {
    spawn_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

/// Starts `nasc run` in the background, in folder `cwd`.
fn spawn_in(cwd: &Path, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_nasc"))
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nasc starts")
}

/// Starts a run of `file` in `store` and kills it (SIGKILL) once `finished` of its trials
/// are finished; returns the finished rows seen just before the kill.
fn run_and_kill(file: &str, store: &str, finished: usize) -> Vec<TrialRow> {
    run_and_kill_in(Path::new(env!("CARGO_MANIFEST_DIR")), file, store, finished)
}

/// [`run_and_kill`], started in folder `cwd` (`file` and `store` may be relative to it).
fn run_and_kill_in(cwd: &Path, file: &str, store: &str, finished: usize) -> Vec<TrialRow> {
    let mut child = spawn_in(cwd, &["run", file, "--store", store, "-q"]);
    let store = cwd.join(store).display().to_string();
    let store = store.as_str();
    let started = Instant::now();
    loop {
        if Path::new(store).exists() {
            if let Ok(s) = Store::open(Path::new(store)) {
                let done: Vec<TrialRow> = s
                    .trials(1)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|t| t.status != TrialStatus::Running)
                    .collect();
                if done.len() >= finished {
                    child.kill().expect("kill");
                    let _ = child.wait();
                    // Rows finished between the read and the kill are kept too; read
                    // again now that nothing writes.
                    return trials(store, 1)
                        .into_iter()
                        .filter(|t| t.status != TrialStatus::Running)
                        .collect();
                }
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the run ended ({status}) before {finished} trials finished");
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no progress in 300 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What must agree between two runs of one seed: per trial its architecture, fidelity,
/// status, reuse and measured loss (bit for bit).
fn fingerprint(rows: &[TrialRow]) -> Vec<(i64, String, i64, TrialStatus, Option<i64>, u64)> {
    rows.iter()
        .map(|t| {
            (
                t.seq,
                t.hash.clone(),
                t.steps,
                t.status,
                t.reused_from,
                t.metrics.get("val_loss").map_or(0, |v| v.to_bits()),
            )
        })
        .collect()
}

/// A run started as `nasc run tiny.nas` in the file's folder resumes, with the file
/// named as it was typed or from another folder by store and run (the store keeps the
/// absolute path), and is not taken for a changed file.
#[test]
fn a_run_started_with_a_relative_path_resumes() {
    let dir = temp_dir("relative");
    space(&dir, PIPELINE, "");
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (store, cwd, resume) in [
        (
            "a.db",
            dir.as_path(),
            vec!["run", "tiny.nas", "--resume", "--store", "a.db"],
        ),
        (
            "b.db",
            crate_dir,
            vec!["run", "--resume", "--run", "1", "--store"],
        ),
    ] {
        let before = run_and_kill_in(&dir, "tiny.nas", store, 1);
        assert!(before.len() < 12, "{}", before.len());
        let path = dir.join(store).display().to_string();
        let mut args = resume.clone();
        if cwd == crate_dir {
            args.push(&path);
        }
        args.push("-q");
        let out = Command::new(env!("CARGO_BIN_EXE_nasc"))
            .args(&args)
            .current_dir(cwd)
            .output()
            .expect("nasc runs");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let after = trials(&path, 1);
        assert_eq!(
            after.iter().map(|t| t.seq).collect::<Vec<_>>(),
            (0..12).collect::<Vec<_>>()
        );
        let s = Store::open(Path::new(&path)).unwrap();
        assert_eq!(s.run(1).unwrap().unwrap().status, RunStatus::Done);
    }
}

#[test]
fn a_killed_run_resumes_to_the_uninterrupted_answer() {
    let dir = temp_dir("resume");
    let file = space(&dir, PIPELINE, "");

    // Uninterrupted.
    let clean = dir.join("clean");
    std::fs::create_dir_all(&clean).unwrap();
    let clean_store = store_arg(&clean);
    let (code, stdout, stderr) = nasc(&["run", &file, "--store", &clean_store, "-q"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("best by val_loss"), "{stdout}");
    let reference = trials(&clean_store, 1);
    // 10 samples at 12 steps, then the 2 survivors at 20 steps.
    assert_eq!(reference.len(), 12);
    assert!(reference.iter().all(|t| t.status == TrialStatus::Ok));

    // Killed after three trials, then resumed.
    let killed = dir.join("killed");
    std::fs::create_dir_all(&killed).unwrap();
    let store = store_arg(&killed);
    let before = run_and_kill(&file, &store, 3);
    assert!(before.len() >= 3 && before.len() < 12, "{}", before.len());
    let s = Store::open(Path::new(&store)).unwrap();
    assert_eq!(s.run(1).unwrap().unwrap().status, RunStatus::Running);
    drop(s);
    let (code, stdout2, stderr) = nasc(&["run", "--resume", "--store", &store]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("from the store"),
        "the resumed run reads finished trials back:\n{stderr}"
    );
    let after = trials(&store, 1);
    // Every trial once (seqs 0..n), the same trials with the same numbers.
    assert_eq!(
        after.iter().map(|t| t.seq).collect::<Vec<_>>(),
        (0..12).collect::<Vec<_>>()
    );
    assert_eq!(fingerprint(&after), fingerprint(&reference));
    // No finished trial ran again: its row is untouched.
    for b in &before {
        let a = &after[b.seq as usize];
        assert_eq!(
            (a.finished, a.wall_s, &a.owner),
            (b.finished, b.wall_s, &b.owner),
            "trial {} was evaluated again",
            b.seq
        );
    }
    // The same final answer, in the same order.
    let best = |store: &str| {
        Store::open(Path::new(store))
            .unwrap()
            .run(1)
            .unwrap()
            .unwrap()
            .result
            .unwrap()["best"]
            .clone()
    };
    assert_eq!(best(&store), best(&clean_store));
    let table = |s: &str| {
        s[s.find("best by").unwrap()..]
            .lines()
            .next()
            .map(str::to_string)
    };
    assert_eq!(table(&stdout2), table(&stdout));

    // `nasc runs`, `nasc show`, `nasc export`.
    let (code, out, _) = nasc(&["runs", "--store", &store]);
    assert_eq!(code, 0);
    assert!(
        out.lines()
            .any(|l| l.starts_with("1 ") && l.contains("done")),
        "{out}"
    );
    let (code, out, _) = nasc(&["show", "1", "--store", &store, "--format", "json"]);
    assert_eq!(code, 0);
    let shown: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(shown["status"], "done");
    assert_eq!(shown["layers"].as_array().unwrap().len(), 2);
    assert_eq!(shown["best"].as_array().unwrap().len(), 2);
    let (code, out, _) = nasc(&["export", "1", "--store", &store, "--format", "json"]);
    assert_eq!(code, 0);
    let all: Vec<serde_json::Value> = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(all.len(), 12);
    for t in &all {
        for key in [
            "trial",
            "layer",
            "hash",
            "fidelity",
            "status",
            "assignment",
            "metrics",
        ] {
            assert!(t.get(key).is_some(), "export lacks `{key}`: {t}");
        }
        assert!(t["metrics"]["val_loss"].as_f64().unwrap() > 0.0);
    }
    let (code, out, _) = nasc(&["export", "1", "--store", &store, "--format", "csv"]);
    assert_eq!(code, 0);
    let mut lines = out.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("trial,layer,hash,steps,status"),
        "{header}"
    );
    assert!(
        header.contains("width") && header.contains("val_loss"),
        "{header}"
    );
    // Every column has its own name: the metrics `steps` and `wall_s` are told apart.
    let columns: Vec<&str> = header.split(',').collect();
    let distinct: std::collections::BTreeSet<&str> = columns.iter().copied().collect();
    assert_eq!(distinct.len(), columns.len(), "{header}");
    assert!(header.contains("metrics.steps"), "{header}");
    assert_eq!(lines.count(), 12);
    for args in [
        &["export", "1", "--store", &store][..],
        &["show", "1", "--store", &store],
        &["runs", "--store", &store],
        &["report", "1", "--store", &store, "-o", "-"],
    ] {
        let (code, _, stderr) = nasc_to_full(args);
        assert_eq!(code, 2, "{args:?}: a failed write is an error");
        assert!(stderr.contains("nas::E040"), "{args:?}: {stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn model_based_layers_resume_to_the_uninterrupted_answer() {
    let dir = temp_dir("resume-model");
    let file = space(
        &dir,
        "tpe(trials = 6, steps = 8, startup = 2) |> keep top 2 by val_loss
        evolution(population = 2, generations = 2, steps = 8) |> keep best by val_loss
        bo(trials = 3, steps = 10)",
        "",
    );
    // A continuous learning rate, so the models have something to model.
    let text = std::fs::read_to_string(&file).unwrap();
    let text = text
        .replace(
            "param layers = range(1, 2)",
            "param layers = range(1, 2)\n    param lr = log_uniform(1e-3, 1e-2)",
        )
        .replace("adamw(lr = 3e-3)", "adamw(lr = lr)");
    std::fs::write(&file, text).unwrap();
    let clean = dir.join("clean");
    std::fs::create_dir_all(&clean).unwrap();
    let (code, _, stderr) = nasc(&["run", &file, "--store", &store_arg(&clean), "-q"]);
    assert_eq!(code, 0, "{stderr}");
    let reference = trials(&store_arg(&clean), 1);
    // tpe: 6; evolution: 2 survivors + 2 children; bo: 1 survivor + 3.
    assert_eq!(reference.len(), 6 + 4 + 4);
    let killed = dir.join("killed");
    std::fs::create_dir_all(&killed).unwrap();
    let store = store_arg(&killed);
    let before = run_and_kill(&file, &store, 5);
    assert!(before.len() < reference.len(), "{}", before.len());
    let (code, _, stderr) = nasc(&["run", "--resume", "--store", &store, "-q"]);
    assert_eq!(code, 0, "{stderr}");
    let after = trials(&store, 1);
    assert_eq!(fingerprint(&after), fingerprint(&reference));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn repeated_architectures_train_once() {
    let dir = temp_dir("reuse");
    // Ten samples of a space of four architectures repeat some.
    let file = space(&dir, PIPELINE, "");
    let store = store_arg(&dir);
    let (code, _, stderr) = nasc(&["run", &file, "--store", &store]);
    assert_eq!(code, 0, "{stderr}");
    let rows = trials(&store, 1);
    let mut first: BTreeMap<(String, i64), i64> = BTreeMap::new();
    for t in &rows {
        match first.get(&(t.hash.clone(), t.steps)) {
            None => {
                assert_eq!(
                    t.reused_from, None,
                    "trial {} is the first of its kind",
                    t.seq
                );
                assert!(t.wall_s > 0.0);
                first.insert((t.hash.clone(), t.steps), t.seq);
            }
            Some(&f) => {
                assert_eq!(t.reused_from, Some(f), "trial {} repeats #{f}", t.seq);
                assert_eq!(t.wall_s, 0.0);
                assert_eq!(t.metrics, rows[f as usize].metrics);
            }
        }
    }
    assert!(
        rows.iter().any(|t| t.reused_from.is_some()),
        "ten samples of four architectures must repeat one"
    );
    assert!(stderr.contains("same as #"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn two_processes_resuming_one_run_share_its_trials() {
    let dir = temp_dir("share");
    let file = space(
        &dir,
        "random(samples = 16, steps = 12) |> keep top 2 by val_loss
        final(steps = 20)",
        "",
    );
    let store = store_arg(&dir);
    // Trials finished before the kill, not counting repeats (which cost nothing).
    let before = run_and_kill(&file, &store, 1)
        .iter()
        .filter(|t| t.reused_from.is_none())
        .count();
    let a = spawn(&["run", "--resume", "--run", "1", "--store", &store]);
    let b = spawn(&["run", "--resume", "--run", "1", "--store", &store]);
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let err_a = String::from_utf8_lossy(&a.stderr).into_owned();
    let err_b = String::from_utf8_lossy(&b.stderr).into_owned();
    assert!(a.status.success(), "{err_a}");
    assert!(b.status.success(), "{err_b}");
    let rows = trials(&store, 1);
    assert!(rows.iter().all(|t| t.status != TrialStatus::Running));
    let reused = rows.iter().filter(|t| t.reused_from.is_some()).count();
    // A trial line ends in its cost, `(1.2 s)`, only where that process evaluated it.
    let evaluated = |err: &str| {
        err.lines()
            .filter(|l| l.trim_start().starts_with('#') && l.ends_with(" s)"))
            .count()
    };
    let (ea, eb) = (evaluated(&err_a), evaluated(&err_b));
    assert_eq!(
        ea + eb,
        rows.len() - reused - before,
        "each trial evaluated once across both processes\n--- a\n{err_a}\n--- b\n{err_b}"
    );
    // Both end with the run's one answer.
    let out_a = String::from_utf8_lossy(&a.stdout);
    let out_b = String::from_utf8_lossy(&b.stdout);
    let table = |s: &str| s[s.find("best by").expect("a table")..].to_string();
    assert_eq!(table(&out_a), table(&out_b));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn jobs_share_a_run_between_worker_processes_and_change_no_result() {
    let dir = temp_dir("jobs");
    let file = space(&dir, PIPELINE, "");
    let alone = dir.join("alone");
    let shared = dir.join("shared");
    std::fs::create_dir_all(&alone).unwrap();
    std::fs::create_dir_all(&shared).unwrap();
    let (code, _, stderr) = nasc(&["run", &file, "--store", &store_arg(&alone), "-q"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, out, stderr) = nasc(&["run", &file, "--store", &store_arg(&shared), "--jobs", "2"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(out.contains("best by val_loss"), "{out}");
    assert!(
        stderr.contains("1 worker process shares the run"),
        "{stderr}"
    );
    let rows = trials(&store_arg(&shared), 1);
    // The run keeps the text of the file it ran (not the prelude's).
    let info = Store::open(Path::new(&store_arg(&shared)))
        .unwrap()
        .run(1)
        .unwrap()
        .unwrap();
    assert_eq!(info.source, std::fs::read_to_string(&file).unwrap());
    // Every trial once, with the numbers a run without workers gives.
    assert_eq!(
        rows.iter().map(|t| t.seq).collect::<Vec<_>>(),
        (0..12).collect::<Vec<_>>()
    );
    assert_eq!(
        fingerprint(&rows),
        fingerprint(&trials(&store_arg(&alone), 1))
    );
    // The worker evaluated some of them: trials are owned by two processes.
    let owners: std::collections::BTreeSet<_> = rows
        .iter()
        .filter(|t| t.reused_from.is_none())
        .filter_map(|t| t.owner.clone())
        .collect();
    // A worker that ended well with nothing to say leaves no log behind.
    let log = shared.join("store.db.run1.worker1.log");
    let said = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(
        owners.len(),
        2,
        "trials owned by {owners:?}; worker log:\n{said}"
    );
    assert!(!log.exists(), "the empty log is removed:\n{said}");
    // The run began with an empty store: nothing it shows was read back from it.
    assert!(
        !stderr.contains("from the store"),
        "trials the worker evaluated are shown as the other process's:\n{stderr}"
    );
    assert!(stderr.contains("by another process"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn grid_visits_every_architecture_and_pareto_keeps_the_front() {
    let dir = temp_dir("grid");
    let file = space(
        &dir,
        "grid(steps = 6) |> keep pareto",
        "objective { minimize val_loss  minimize params }",
    );
    let store = store_arg(&dir);
    let (code, stdout, stderr) = nasc(&["run", &file, "--store", &store, "-q", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let rows = trials(&store, 1);
    let hashes: std::collections::BTreeSet<&str> = rows.iter().map(|t| t.hash.as_str()).collect();
    assert_eq!(rows.len(), 4, "one trial per architecture");
    assert_eq!(hashes.len(), 4);
    let shown: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let kept: Vec<i64> = shown["result"]["best"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    let point = |t: &TrialRow| (t.metrics["val_loss"], t.metrics["params"]);
    let dominated = |p: (f64, f64)| {
        rows.iter()
            .map(point)
            .any(|q| q.0 <= p.0 && q.1 <= p.1 && (q.0 < p.0 || q.1 < p.1))
    };
    for t in &rows {
        assert_eq!(
            kept.contains(&t.seq),
            !dominated(point(t)),
            "trial {} {:?}",
            t.seq,
            point(t)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A trial's peak memory on the CPU is its own: the heap it held at once beyond what the
/// process held when it began. A small model trained after a big one in the same process
/// reports less than the big one (the process's peak resident memory, which this was
/// before, only grows from one trial to the next), and what it reports in the run is what
/// it reports trained alone in a fresh process (where the work buffers that the run's
/// earlier trials left grown are not there yet).
#[test]
fn a_trial_reports_its_own_peak_memory_whatever_ran_before_it() {
    let dir = temp_dir("memory");
    let file = space(&dir, "grid(steps = 4)", "objective { minimize val_loss }");
    let src = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, src.replace("choice(8, 16)", "choice(128, 8)")).unwrap();
    let store = store_arg(&dir);
    let (code, _, stderr) = nasc(&["run", &file, "--store", &store, "-q"]);
    assert_eq!(code, 0, "{stderr}");
    let rows = trials(&store, 1);
    assert_eq!(rows.len(), 4, "one trial per architecture");
    let params = |t: &TrialRow| t.metrics["params"];
    let peak = |t: &TrialRow| t.metrics["peak_mem_bytes"];
    let biggest = rows
        .iter()
        .max_by(|a, b| params(a).total_cmp(&params(b)))
        .unwrap();
    let smallest = rows
        .iter()
        .min_by(|a, b| params(a).total_cmp(&params(b)))
        .unwrap();
    assert!(
        biggest.seq < smallest.seq,
        "the grid trains a 128-wide model before an 8-wide one: {:?}",
        rows.iter().map(|t| (t.seq, params(t))).collect::<Vec<_>>()
    );
    for t in &rows {
        let report = t.report.as_ref().expect("a report");
        assert_eq!(report["peak_mem_of"], "heap", "trial {}", t.seq);
        // At least the weights, their gradients and Adam's two moments, in f32.
        assert!(
            peak(t) >= 16.0 * params(t),
            "trial {}: {} bytes for {} parameters",
            t.seq,
            peak(t),
            params(t)
        );
    }
    assert!(
        peak(smallest) < peak(biggest),
        "{} parameters took {} bytes after {} parameters took {}",
        params(smallest),
        peak(smallest),
        params(biggest),
        peak(biggest)
    );
    let arch = dir.join("smallest.json");
    std::fs::write(&arch, smallest.arch.to_string()).unwrap();
    let (code, stdout, stderr) = nasc(&[
        "train",
        &file,
        "--arch",
        &arch.display().to_string(),
        "--steps",
        "4",
        "--format",
        "json",
        "-q",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let alone = common::last_json(&stdout)["peak_mem_bytes"]
        .as_f64()
        .unwrap();
    assert!(
        (alone - peak(smallest)).abs() <= 0.01 * alone,
        "{} bytes alone, {} in the run after bigger models",
        alone,
        peak(smallest)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn store_failures_are_reported() {
    let dir = temp_dir("storefail");
    let file = space(&dir, PIPELINE, "");
    let garbage: PathBuf = dir.join("garbage.db");
    std::fs::write(&garbage, b"this is not a database, not at all, no").unwrap();
    let (code, _, stderr) = nasc(&["run", &file, "--store", &garbage.display().to_string()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("nas::E038"), "{stderr}");

    let store = store_arg(&dir);
    let (code, _, stderr) = nasc(&["run", "--resume", "--store", &store]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no store at"), "{stderr}");
    assert!(!Path::new(&store).exists(), "resuming creates no store");
    drop(Store::open(Path::new(&store)).unwrap());
    let (code, _, stderr) = nasc(&["run", "--resume", "--store", &store]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no unfinished run"), "{stderr}");

    // A run whose file changed is not resumed.
    run_and_kill(&file, &store, 1);
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("lr = 3e-3", "lr = 2e-3")).unwrap();
    let (code, _, stderr) = nasc(&["run", "--resume", "--store", &store]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("changed since run 1 began"), "{stderr}");
    // Found once the space is checked, it follows `--message-format json` too.
    let (code, stdout, stderr) = nasc(&[
        "run",
        "--resume",
        "--store",
        &store,
        "--message-format",
        "json",
    ]);
    assert_eq!(code, 2, "{stderr}");
    let failure: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(failure["code"], "nas::E038", "{stdout}");
    assert!(!stderr.contains("E038"), "{stderr}");
    let (code, _, stderr) = nasc(&["show", "7", "--store", &store]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no run 7"), "{stderr}");

    // Reading a store that is not there says so and creates nothing.
    let typo = dir.join("typo.db");
    let typo_arg = typo.display().to_string();
    for args in [
        vec!["runs", "--store", &typo_arg],
        vec!["show", "1", "--store", &typo_arg],
        vec!["export", "1", "--store", &typo_arg],
        vec!["report", "1", "--store", &typo_arg],
    ] {
        let (code, _, stderr) = nasc(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(
            stderr.contains("nas::E038") && stderr.contains("no store at"),
            "{args:?}: {stderr}"
        );
        assert!(
            !typo.exists(),
            "`nasc {}` created {}",
            args[0],
            typo.display()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fresh run refused before it records anything (here: a stage that cannot run yet)
/// leaves no store, nor the folders made for it; a store that was there stays, with its
/// runs.
#[test]
fn a_refused_run_leaves_no_store_behind() {
    let dir = temp_dir("refused");
    let file = dir.join("refused.nas");
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui_run/run_strategy_not_implemented.nas"),
    )
    .unwrap();
    std::fs::write(&file, text).unwrap();
    let file = file.display().to_string();
    let store = dir.join("new/folders/store.db");
    let (code, _, stderr) = nasc(&["run", &file, "--store", &store.display().to_string()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("nas::E036"), "{stderr}");
    assert!(
        !dir.join("new").exists(),
        "the store's folders were left behind"
    );

    // An existing store keeps its file and its runs.
    let kept = dir.join("kept.db");
    let id = {
        let s = Store::open(&kept).unwrap();
        s.create_run("f.nas", "s", "hash", "text", 0, &serde_json::json!({}))
            .unwrap()
    };
    let (code, _, stderr) = nasc(&["run", &file, "--store", &kept.display().to_string()]);
    assert_eq!(code, 1, "{stderr}");
    let s = Store::open(&kept).unwrap();
    assert!(
        s.run(id).unwrap().is_some(),
        "the existing run is still there"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A store path is a path, never a SQLite URI; `--resume` with no store creates none;
/// `nasc report -o` never writes over the store it reads.
#[test]
fn store_paths_are_taken_literally_and_kept_safe() {
    let dir = temp_dir("literal");
    let file = space(&dir, "random(samples = 2, steps = 2)", "");
    let in_dir = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_nasc"))
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("nasc runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, _, stderr) = in_dir(&["run", &file, "-q", "--store", "file:new.db"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        dir.join("file:new.db").is_file(),
        "the store has the name given"
    );
    assert!(!dir.join("new.db").exists(), "not the URI's file");
    let (code, stdout, stderr) = in_dir(&["runs", "--store", "file:new.db"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("done"), "{stdout}");

    let (code, _, stderr) = in_dir(&["run", "--resume", "--store", "deep/er/none.db"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("nas::E038") && stderr.contains("no store at"),
        "{stderr}"
    );
    assert!(!dir.join("deep").exists(), "no store or folder is created");

    let store = dir.join("file:new.db");
    let before = std::fs::read(&store).unwrap();
    let (code, _, stderr) = in_dir(&[
        "report",
        "1",
        "--store",
        "file:new.db",
        "-o",
        "./file:new.db",
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("nas::E040") && stderr.contains("is the store"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(&store).unwrap(),
        before,
        "the store is untouched"
    );
    // Nor through a hard link to it.
    std::fs::hard_link(&store, dir.join("link.db")).unwrap();
    let (code, _, stderr) = in_dir(&["report", "1", "--store", "file:new.db", "-o", "link.db"]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        std::fs::read(&store).unwrap(),
        before,
        "the store is still untouched"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `nasc` with its standard output on `/dev/full`: exit code, nothing, stderr.
fn nasc_to_full(args: &[&str]) -> (i32, String, String) {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nasc"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(full)
        .output()
        .expect("nasc runs");
    (
        out.status.code().unwrap_or(-1),
        String::new(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
