//! `nasc run`, `nasc runs`, `nasc show` and `nasc export`: a space's pipeline run against
//! the results store, and what the store holds afterwards.
//!
//! `nasc run FILE` checks the file, plans its pipeline (reporting `E036` before any
//! training when it cannot run), makes sure one architecture's data and training settings
//! open (`E033`, `E034`), records a new run in the store and runs it with a progress bar.
//! A space whose data is a table of measured results (`nas_bench_201`) is looked up in
//! the table instead of trained ([`crate::train::tabular`]).
//! `nasc run --resume` replays the newest unfinished run (or `--run ID`) from the store:
//! finished trials are read back, the rest are evaluated. Failures of the store itself are
//! `nas::E038`, a diagnostic without a source line (like the data sets' `E035`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use sha2::{Digest, Sha256};

use super::fail::{color_on, Failure};
use super::sample::{open_space, with_checked, RunOutput};
use super::train::{prepare, Overrides};
use crate::check::Checked;
use crate::diag::{Code, Diagnostic, Sink};
use crate::interp::strategy::{self, RandomSearch};
use crate::search::filter::Metric;
use crate::search::layer::{self, Evaluated};
use crate::search::plan::{self, Stage};
use crate::search::run::{Evaluator, How, RunError, Runner, Watcher};
use crate::store::{self, LayerRow, RunInfo, RunStatus, Store, TrialRow, TrialStatus};
use crate::train::device::DeviceChoice;
use crate::train::evaluator::Trainer;
use crate::train::fetch;
use crate::train::tabular::{self, Table, TableEvaluator};

/// The code of store failures, as printed.
pub const STORE_CODE: &str = super::fail::STORE;

/// The default store, relative to the current directory.
pub const DEFAULT_STORE: &str = ".nasc/store.db";

/// What `nasc run` was asked to do.
#[derive(Clone, Debug)]
pub struct RunRequest {
    /// The `.nas` file; with `resume`, optional (the run's own file is used).
    pub file: Option<PathBuf>,
    /// The space (default: the first of the file, or the resumed run's).
    pub space: Option<String>,
    /// The seed of every strategy.
    pub seed: u64,
    /// The store.
    pub store: PathBuf,
    /// Resume an unfinished run instead of starting one.
    pub resume: bool,
    /// With `resume`: which run.
    pub run: Option<i64>,
    /// Where to train.
    pub device: DeviceChoice,
    /// Trials evaluated at once (worker processes started: `jobs - 1`).
    pub jobs: usize,
    /// No progress on standard error.
    pub quiet: bool,
    /// The summary as one JSON object.
    pub json: bool,
}

/// A store failure, rendered like a diagnostic without a source.
pub(crate) fn store_failure(
    message: impl Into<String>,
    help: impl Into<String>,
    color: bool,
) -> String {
    Failure::new(STORE_CODE, message, help).render(color)
}

/// Opens a store that must exist already, for reading only (`runs`, `show`, `export`,
/// `report` read one: they must not leave an empty file behind for a mistyped path, and
/// can read a store they may not write), or prints why not; exit code 2 then.
fn open_existing_store(path: &Path, color: super::ColorChoice) -> Result<Store, i32> {
    if !path.exists() {
        eprint!(
            "{}",
            store_failure(
                format!("no store at `{}`", path.display()),
                "`nasc run` creates one (`.nasc/store.db` under the current directory unless `--store PATH` says otherwise); give the path of an existing store with `--store PATH`",
                color_on(color)
            )
        );
        return Err(2);
    }
    let store = Store::open_read_only(path).map_err(|e| {
        eprint!(
            "{}",
            store_failure(
                e.0,
                "give the path of a store `nasc run` wrote with `--store PATH`",
                color_on(color)
            )
        );
        2
    })?;
    if store.journal_unread() {
        eprintln!(
            "warning: `{}-wal` holds changes that cannot be read without write access to its \
             folder; the store is shown as of its last checkpoint",
            path.display()
        );
    }
    Ok(store)
}

/// What to do about a store `nasc run` cannot open or create.
const STORE_HELP: &str = "check that the path names a store `nasc run` wrote (not another \
     file) in a folder you can write, or give another with `--store PATH`";

/// `nasc run`: the exit code.
pub fn run(
    req: &RunRequest,
    message_format: super::MessageFormat,
    color: super::ColorChoice,
) -> i32 {
    if !req.resume && req.file.is_none() {
        return Failure::usage(
            "`nasc run` needs a `.nas` file, or `--resume`",
            "give the file (`nasc run space.nas`), or go on with the last unfinished run \
             (`nasc run --resume`)",
        )
        .print(message_format, color);
    }
    if req.jobs > 1 {
        share_cores(req.jobs);
    }
    let fail = |m: String, h: &str| Failure::new(STORE_CODE, m, h).print(message_format, color);
    if req.resume && !req.store.exists() {
        return fail(
            format!("no store at `{}`", req.store.display()),
            "a run is resumed from the store it was started with: give its path with \
             `--store PATH`",
        );
    }
    // What opening the store creates, so that a fresh run refused before it records
    // anything (a diagnostic, data that does not open) leaves nothing behind.
    let made = (!req.resume && !req.store.exists()).then(|| Made::of(&req.store));
    let store = match Store::open(&req.store) {
        Ok(s) => s,
        Err(e) => return fail(e.0, STORE_HELP),
    };
    // Which file, space and run.
    let (file, space, resumed) = if req.resume {
        let found = match req.run {
            Some(id) => store.run(id),
            None => {
                let abs = req.file.as_deref().map(absolute);
                store.latest_unfinished(
                    abs.as_ref()
                        .map(|p| p.to_string_lossy().into_owned())
                        .as_deref(),
                    req.space.as_deref(),
                )
            }
        };
        let info = match found {
            Ok(Some(i)) => i,
            Ok(None) => {
                return fail(
                    match req.run {
                        Some(id) => format!("no run {id} in `{}`", req.store.display()),
                        None => format!("no unfinished run to resume in `{}`", req.store.display()),
                    },
                    "`nasc runs` lists the runs of a store; start one with `nasc run FILE`",
                )
            }
            Err(e) => return fail(e.0, "check the store's path and permissions"),
        };
        if info.status != RunStatus::Running {
            return fail(
                format!("run {} is already {}", info.id, info.status.as_str()),
                "`nasc show RUN` prints its result; start a new run with `nasc run FILE`",
            );
        }
        (
            PathBuf::from(&info.file),
            Some(info.space.clone()),
            Some(info),
        )
    } else {
        let file = req.file.clone().unwrap_or_default();
        (file, req.space.clone(), None)
    };
    let (name, text, dir) = match super::check::read_input(&file) {
        Ok(x) => x,
        Err(f) => {
            // Nothing was recorded: a store this run created goes again.
            drop(store);
            if let Some(made) = made {
                made.undo();
            }
            return f.print(message_format, color);
        }
    };
    let base = dir.clone();
    let abs_file = absolute(&file).to_string_lossy().into_owned();
    let mut ctx = Context {
        req,
        store: &store,
        resumed,
        file: abs_file,
        base,
        recorded: false,
    };
    let (out, failed) = with_checked(&name, text, dir, |checked, sink, out| {
        ctx.run_checked(checked, space.as_deref(), sink, out)
    });
    // Another process may have recorded a run in the new store meanwhile: it stays then.
    let untouched = !ctx.recorded && store.runs().is_ok_and(|r| r.is_empty());
    drop(store);
    if let Some(made) = made.filter(|_| untouched) {
        made.undo();
    }
    super::check::emit(&out.diagnostics, &out.sources, message_format, color);
    if let Some(f) = &out.failure {
        return f.print(message_format, color);
    }
    print!("{}", out.stdout);
    if out.diagnostics.iter().any(|d| d.is_error()) {
        1
    } else if failed {
        2
    } else {
        0
    }
}

/// The path as absolute, so a run can be resumed from another folder.
/// Divides the cores between `jobs` processes: this one and the workers it starts (which
/// inherit the setting), unless the user chose a thread count.
fn share_cores(jobs: usize) {
    if std::env::var_os("RAYON_NUM_THREADS").is_some() {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let each = (cores / jobs).max(1);
    // Set before any thread pool exists: this is the first thing `nasc run` does.
    std::env::set_var("RAYON_NUM_THREADS", each.to_string());
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

struct Context<'a> {
    req: &'a RunRequest,
    store: &'a Store,
    resumed: Option<RunInfo>,
    file: String,
    base: Option<PathBuf>,
    /// Whether a new run was recorded in the store.
    recorded: bool,
}

/// What opening a store that does not exist yet creates: the file (and SQLite's files
/// beside it) and the folders above it that do not exist.
struct Made {
    file: PathBuf,
    /// The folders, deepest first.
    dirs: Vec<PathBuf>,
}

impl Made {
    fn of(store: &Path) -> Made {
        let dirs = store
            .ancestors()
            .skip(1)
            .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
            .map(Path::to_path_buf)
            .collect();
        Made {
            file: store.to_path_buf(),
            dirs,
        }
    }

    /// Removes them again (a folder only while it is empty).
    fn undo(self) {
        let _ = std::fs::remove_file(&self.file);
        for suffix in ["-wal", "-shm", "-journal"] {
            let mut side = self.file.clone().into_os_string();
            side.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(side));
        }
        for d in &self.dirs {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// The hex SHA-256 of the texts of every loaded source, in the order they were loaded,
/// so a resumed run can tell that its files changed. The names are left out: a run
/// started as `nasc run space.nas` is resumed from the absolute path the store keeps,
/// under which the same files have other names.
fn source_hash(checked: &Checked) -> String {
    let mut h = Sha256::new();
    h.update(b"texts\0");
    for (_, f) in checked.program.sources.iter() {
        h.update((f.text.len() as u64).to_le_bytes());
        h.update(f.text.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The hash of [`source_hash`] as runs recorded before it kept it: over names and texts.
/// A run such a version started from an absolute path resumes under it.
fn named_source_hash(checked: &Checked) -> String {
    let mut h = Sha256::new();
    for (_, f) in checked.program.sources.iter() {
        h.update(f.name.as_bytes());
        h.update([0]);
        h.update(f.text.as_bytes());
        h.update([0]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl Context<'_> {
    /// Plans, checks, records and runs; `true` when the store failed (exit code 2).
    fn run_checked(
        &mut self,
        checked: &Checked,
        space: Option<&str>,
        sink: &mut Sink,
        out: &mut RunOutput,
    ) -> bool {
        let Some((info, interp)) = open_space(checked, space, sink, out) else {
            return false;
        };
        let Some(plan) = plan::plan(checked, info, sink) else {
            return false;
        };
        for st in &plan.stages {
            if let Err(e) = layer::layer(st, layer::Goal::of(st, &plan)) {
                sink.push(
                    Diagnostic::error(Code::PipelineCannotRun, e.message, st.span, "this stage")
                        .with_help(e.help),
                );
            }
        }
        if sink.has_errors() {
            return false;
        }
        let seed = self.resumed.as_ref().map_or(self.req.seed, |r| r.seed);
        // One architecture shows whether the data and the training settings open, before
        // anything is recorded or trained.
        let mut rng = strategy::rng(seed);
        let probe = match strategy::sample(&interp, &mut RandomSearch, &mut rng, 1, 10_000) {
            Ok((mut a, _)) => a.remove(0),
            Err(strategy::SampleError::Build(e)) => {
                sink.push(super::sample::unbuildable(&e));
                return false;
            }
            Err(strategy::SampleError::AllRejected(stats)) => {
                sink.push(super::sample::all_rejected(&stats, info));
                return false;
            }
        };
        // A table of measured results is looked up, not trained on: open it (once) instead.
        let mut evaluator: Box<dyn Evaluator> = if tabular::is_table(&probe.data) {
            match Table::open(&fetch::cache_dir(), &probe.data) {
                Ok(table) => Box::new(TableEvaluator::new(Rc::new(table), probe.data.clone())),
                Err(e) => {
                    let span = info.data.as_ref().map_or(info.span, |d| d.span);
                    sink.push(
                        Diagnostic::error(Code::DataUnavailable, e.message, span, "this table")
                            .with_help(e.help),
                    );
                    return false;
                }
            }
        } else {
            let overrides = Overrides {
                steps: None,
                batch: None,
                train_seed: None,
                device: self.req.device,
            };
            let Some((data, _, device)) =
                prepare(&probe, info, self.base.as_deref(), &overrides, sink, out)
            else {
                return false;
            };
            let mut trainer = Trainer::new(self.base.clone(), device);
            trainer.add_data(&probe, data);
            Box::new(trainer)
        };
        let hash = source_hash(checked);
        let run_id = match &self.resumed {
            Some(r) => {
                if r.source_hash != hash && r.source_hash != named_source_hash(checked) {
                    out.failure = Some(Failure::new(STORE_CODE, format!("`{}` (or a file it imports) changed since run {} began", self.file, r.id),
                        "a resumed run must replay the same pipeline: restore the file (the store keeps its text), or start a new run with `nasc run FILE`"));
                    return true;
                }
                r.id
            }
            None => {
                // The text of the file that holds the space (not the prelude, which is
                // loaded first).
                let main_text = checked.program.sources.get(info.file).text.clone();
                match self.store.create_run(
                    &self.file,
                    &info.name,
                    &hash,
                    &main_text,
                    seed,
                    &plan.to_json(),
                ) {
                    Ok(id) => {
                        self.recorded = true;
                        id
                    }
                    Err(e) => {
                        out.failure = Some(Failure::new(
                            STORE_CODE,
                            e.0,
                            "check the store's path and permissions",
                        ));
                        return true;
                    }
                }
            }
        };
        if !self.req.quiet {
            let verb = if self.resumed.is_some() {
                "resuming"
            } else {
                "starting"
            };
            eprintln!(
                "{verb} run {run_id} of `{}` (seed {seed}) in {}; if it stops, `nasc run --resume --store {} --run {run_id}` goes on",
                info.name,
                self.store.path().display(),
                self.store.path().display(),
            );
        }
        let mut workers = self.start_workers(run_id);
        let mut watcher = Progress::new(plan.stages.len(), !self.req.quiet, &plan.rank);
        let mut runner = Runner {
            store: self.store,
            run: run_id,
            seed,
            interp: &interp,
            plan: &plan,
            evaluator: evaluator.as_mut(),
            watcher: &mut watcher,
            owner: store::owner_id(),
            started: store::now(),
        };
        let result = runner.run();
        watcher.finish();
        for (k, (w, log)) in workers.iter_mut().enumerate() {
            // A worker ends once it has replayed the finished run; one that failed has
            // left its trials to be taken over, so the run does not depend on it. The log
            // of a worker that ended well and wrote nothing is removed; any other is kept
            // and named.
            let ok = w.wait().is_ok_and(|s| s.success());
            let empty = std::fs::metadata(&*log).is_ok_and(|m| m.len() == 0);
            if ok && empty {
                let _ = std::fs::remove_file(&*log);
            } else if !self.req.quiet {
                eprintln!(
                    "worker {}: {}; its output is in `{}`",
                    k + 1,
                    if ok { "ended well" } else { "failed" },
                    log.display()
                );
            }
        }
        match result {
            Ok(outcome) => {
                let result = outcome.result_json();
                if let Err(e) = self.store.finish_run(run_id, RunStatus::Done, &result) {
                    out.failure = Some(Failure::new(
                        STORE_CODE,
                        e.0,
                        "the run's trials are stored; `nasc run --resume` finishes it",
                    ));
                    return true;
                }
                let shown = self.show(run_id);
                match shown {
                    Ok(text) => out.stdout.push_str(&text),
                    Err(e) => {
                        out.failure = Some(Failure::new(
                            STORE_CODE,
                            e,
                            "the run is stored; `nasc show RUN` prints it",
                        ));
                        return true;
                    }
                }
                false
            }
            Err(RunError::Store(e)) => {
                out.failure = Some(Failure::new(
                    STORE_CODE,
                    e.0,
                    "finished trials are kept; fix the store's problem, then `nasc run --resume`",
                ));
                true
            }
            Err(RunError::Layer(i, e)) => {
                let st = &plan.stages[i];
                sink.push(
                    Diagnostic::error(
                        Code::PipelineCannotRun,
                        e.message.clone(),
                        st.span,
                        "this stage",
                    )
                    .with_help(e.help),
                );
                let _ = self.store.finish_run(
                    run_id,
                    RunStatus::Failed,
                    &serde_json::json!({"layer": i, "error": e.message}),
                );
                false
            }
            Err(RunError::KeptNothing(i, why)) => {
                let st = &plan.stages[i];
                let span = st.filter.as_ref().map_or(st.span, |f| f.span);
                sink.push(
                    Diagnostic::error(
                        Code::LayerKeptNothing,
                        format!("layer {} (`{}`) kept no candidate: {why}", i + 1, st.strategy),
                        span,
                        "kept nothing",
                    )
                    .with_help(format!("`nasc show {run_id}` (with the same `--store`) lists its trials and why any failed; loosen the filter or fix the failures")),
                );
                let _ = self.store.finish_run(
                    run_id,
                    RunStatus::Failed,
                    &serde_json::json!({"layer": i, "error": why}),
                );
                false
            }
        }
    }

    /// Starts `jobs - 1` worker processes on run `run_id`: each resumes the run quietly
    /// and evaluates the trials nobody has claimed, so a layer that asks for many
    /// candidates at once has them evaluated in parallel. Each writes its messages to a
    /// log beside the store. A worker that cannot start is reported and the run goes on
    /// with fewer.
    fn start_workers(&self, run_id: i64) -> Vec<(std::process::Child, PathBuf)> {
        let mut out = Vec::new();
        if self.req.jobs <= 1 {
            return out;
        }
        let exe = match std::env::current_exe() {
            Ok(e) => e,
            Err(e) => {
                eprintln!("warning: --jobs: cannot find the nasc executable ({e}); running alone");
                return out;
            }
        };
        let store = absolute(self.store.path());
        for k in 1..self.req.jobs {
            // The store's whole name, so that stores `x.db` and `x.sqlite` beside each
            // other, or a file of the user's, never share it.
            let mut log = store.clone().into_os_string();
            log.push(format!(".run{run_id}.worker{k}.log"));
            let log = PathBuf::from(log);
            let Ok(file) = std::fs::File::create(&log) else {
                eprintln!(
                    "warning: --jobs: cannot write `{}`; worker {k} not started",
                    log.display()
                );
                continue;
            };
            let spawned = std::process::Command::new(&exe)
                .arg("run")
                .arg("--resume")
                .arg("--run")
                .arg(run_id.to_string())
                .arg("--store")
                .arg(&store)
                .arg("--device")
                .arg(self.req.device.name())
                .arg("--quiet")
                .arg("--color")
                .arg("never")
                .stdin(std::process::Stdio::null())
                // The summary is this process's to print; the log keeps what goes wrong.
                .stdout(std::process::Stdio::null())
                .stderr(file)
                .spawn();
            match spawned {
                Ok(child) => out.push((child, log)),
                Err(e) => eprintln!("warning: --jobs: worker {k} did not start ({e})"),
            }
        }
        if !self.req.quiet && !out.is_empty() {
            eprintln!(
                "{} worker process{} the run (their logs beside the store, removed when empty)",
                out.len(),
                if out.len() == 1 {
                    " shares"
                } else {
                    "es share"
                }
            );
        }
        out
    }

    fn show(&self, id: i64) -> Result<String, String> {
        let r = load(self.store, id)?.ok_or_else(|| format!("run {id} vanished from the store"))?;
        Ok(if self.req.json {
            format!("{}\n", run_json(&r.info, &r.layers, &r.trials))
        } else {
            render_run(&r.info, &r.layers, &r.trials)
        })
    }
}

/// The seqs of the best trials a finished run recorded.
pub(crate) fn best_seqs(info: &RunInfo) -> Vec<i64> {
    info.result
        .as_ref()
        .and_then(|r| r.get("best"))
        .and_then(|b| b.as_array())
        .map(|a| a.iter().filter_map(|v| v.as_i64()).collect())
        .unwrap_or_default()
}

/// The metric the best table is ordered by, as the run's result records it.
pub(crate) fn ranked_by(info: &RunInfo) -> Option<Metric> {
    metric_from_json(info.result.as_ref()?.get("ranked_by")?)
}

/// A metric as the store writes it: `{"name": "val_loss", "direction": "minimize"}`.
pub(crate) fn metric_from_json(v: &serde_json::Value) -> Option<Metric> {
    Some(Metric {
        name: v.get("name")?.as_str()?.to_string(),
        direction: match v.get("direction")?.as_str()? {
            "maximize" => crate::syntax::ast::Direction::Maximize,
            _ => crate::syntax::ast::Direction::Minimize,
        },
    })
}

/// The trials of a run at which an architecture was evaluated, in order.
pub(crate) fn trail(trials: &[TrialRow], hash: &str) -> Vec<String> {
    trials
        .iter()
        .filter(|t| t.hash == hash)
        .map(|t| format!("#{} (layer {}, {} steps)", t.seq, t.layer + 1, t.steps))
        .collect()
}

pub(crate) fn duration(s: f64) -> String {
    // An empty sum of floats is -0.0.
    let s = s.max(0.0);
    if s < 60.0 {
        format!("{s:.1} s")
    } else if s < 3600.0 {
        format!("{}m {:02}s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else {
        format!(
            "{}h {:02}m",
            (s / 3600.0) as u64,
            ((s % 3600.0) / 60.0) as u64
        )
    }
}

/// A hyperparameter's value as the tables print it: strings bare, floats to four
/// significant digits.
pub(crate) fn show_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().unwrap_or(0.0);
            let digits = (3 - x.abs().log10().floor() as i64).clamp(0, 12) as usize;
            format!("{x:.digits$}")
        }
        _ => v.to_string(),
    }
}

/// A metric's value as the tables print it.
pub(crate) fn show_metric(name: &str, v: f64) -> String {
    match name {
        "val_accuracy" | "baseline_accuracy" => format!("{:.2}%", 100.0 * v),
        "params"
        | "flops"
        | "activation_memory"
        | "peak_mem_bytes"
        | "peak_host_mem_bytes"
        | "steps" => super::sample::grouped(v as u64),
        _ if v.abs() >= 1000.0 => format!("{v:.0}"),
        _ => format!("{v:.4}"),
    }
}

/// How many trials of a run are in each state, and what their evaluations cost.
pub(crate) struct TrialCounts {
    /// Every trial, in any state.
    pub(crate) total: usize,
    /// Finished, ok or failed.
    pub(crate) finished: usize,
    /// Finished with a failure.
    pub(crate) failed: usize,
    /// Reusing an earlier trial's result.
    pub(crate) reused: usize,
    /// The seconds spent evaluating, summed over the trials.
    pub(crate) cost_s: f64,
}

impl TrialCounts {
    /// The counts of `trials`.
    pub(crate) fn of(trials: &[TrialRow]) -> TrialCounts {
        let count = |f: &dyn Fn(&TrialRow) -> bool| trials.iter().filter(|t| f(t)).count();
        TrialCounts {
            total: trials.len(),
            finished: count(&|t| t.status != TrialStatus::Running),
            failed: count(&|t| t.status == TrialStatus::Failed),
            reused: count(&|t| t.reused_from.is_some()),
            cost_s: trials.iter().map(|t| t.wall_s).sum(),
        }
    }
}

/// One planned layer of a run as the funnel shows it.
pub(crate) struct FunnelRow {
    /// Its 1-based number.
    pub(crate) layer: usize,
    /// The strategy with its arguments: `random(samples = 12, steps = 1)`.
    pub(crate) call: String,
    /// The candidates that came in; `None` while the layer is not finished.
    pub(crate) input: Option<usize>,
    /// Its trials (reused ones included).
    pub(crate) evaluated: usize,
    /// Its failed trials.
    pub(crate) failed: usize,
    /// The candidates it passed on; `None` while it is not finished.
    pub(crate) kept: Option<usize>,
    /// Its filter as written, `(keeps all)` without one, `(not finished)` before its end.
    pub(crate) filter: String,
    /// Its cost in seconds (so far, while not finished).
    pub(crate) cost_s: f64,
}

/// The funnel of a run: one row per planned layer, finished or not.
pub(crate) fn funnel(info: &RunInfo, layers: &[LayerRow], trials: &[TrialRow]) -> Vec<FunnelRow> {
    let plan_layers = info
        .plan
        .get("layers")
        .and_then(|l| l.as_array())
        .cloned()
        .unwrap_or_default();
    let mut rows = Vec::new();
    for (i, pl) in plan_layers.iter().enumerate() {
        // The stage as written; runs stored before the plan kept it show every argument.
        let call = match pl.get("text").and_then(|v| v.as_str()) {
            Some(text) => text.to_string(),
            None => {
                let strategy = pl.get("strategy").and_then(|v| v.as_str()).unwrap_or("?");
                let args = pl
                    .get("args")
                    .and_then(|a| a.as_object())
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| {
                                format!(
                                    "{k} = {}",
                                    v.as_str().map_or(v.to_string(), str::to_string)
                                )
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                format!("{strategy}({args})")
            }
        };
        let in_layer: Vec<&TrialRow> = trials.iter().filter(|t| t.layer == i as i64).collect();
        let failed = in_layer
            .iter()
            .filter(|t| t.status == TrialStatus::Failed)
            .count();
        let recorded = layers.iter().find(|l| l.index == i as i64);
        rows.push(FunnelRow {
            layer: i + 1,
            call,
            input: recorded.map(|l| l.input.len()),
            evaluated: in_layer.len(),
            failed,
            kept: recorded.map(|l| l.output.len()),
            filter: match recorded {
                Some(l) if l.filter.is_empty() => "(keeps all)".to_string(),
                Some(l) => l.filter.clone(),
                None => "(not finished)".to_string(),
            },
            cost_s: recorded.map_or_else(|| in_layer.iter().map(|t| t.wall_s).sum(), |l| l.cost_s),
        });
    }
    rows
}

/// The best table of a finished run: the last layer's survivors, best first.
pub(crate) struct BestTable<'a> {
    /// The metric they are ranked by.
    pub(crate) metric: Metric,
    /// The metrics shown: the ranking one first, then the usual ones some row has.
    pub(crate) columns: Vec<String>,
    /// The survivors' trials, best first.
    pub(crate) rows: Vec<&'a TrialRow>,
}

/// The best table of a run, `None` when it recorded no best (not finished, or failed).
pub(crate) fn best_table<'a>(info: &RunInfo, trials: &'a [TrialRow]) -> Option<BestTable<'a>> {
    let best = best_seqs(info);
    if best.is_empty() {
        return None;
    }
    let metric = ranked_by(info).unwrap_or_else(|| Metric::named("val_loss", &[]));
    let rows: Vec<&TrialRow> = best
        .iter()
        .filter_map(|q| trials.iter().find(|t| t.seq == *q))
        .collect();
    let mut columns: Vec<String> = vec![metric.name.clone()];
    for c in [
        "val_loss",
        "val_perplexity",
        "val_accuracy",
        "params",
        "latency_ms",
        "wall_s",
    ] {
        if !columns.iter().any(|x| x == c) && rows.iter().any(|r| r.metrics.contains_key(c)) {
            columns.push(c.to_string());
        }
    }
    Some(BestTable {
        metric,
        columns,
        rows,
    })
}

/// Why a failed run stopped, as its result records it.
pub(crate) fn stop_reason(info: &RunInfo) -> Option<&str> {
    if info.status != RunStatus::Failed {
        return None;
    }
    info.result.as_ref()?.get("error")?.as_str()
}

/// A run as `nasc show` prints it: the funnel of its layers, then the best architectures
/// with their metrics and where each came from.
pub fn render_run(info: &RunInfo, layers: &[LayerRow], trials: &[TrialRow]) -> String {
    let mut s = String::new();
    let counts = TrialCounts::of(trials);
    let _ = writeln!(
        s,
        "run {} of space `{}` ({}), seed {}: {}",
        info.id,
        info.space,
        info.file,
        info.seed,
        info.status.as_str()
    );
    let _ = writeln!(
        s,
        "trials: {} ({} finished: {} evaluated, {} reused, {} failed); evaluation time {}",
        counts.total,
        counts.finished,
        counts.finished - counts.reused,
        counts.reused,
        counts.failed,
        duration(counts.cost_s)
    );
    let _ = writeln!(s);
    let rows = funnel(info, layers, trials);
    let wide =
        |f: fn(&FunnelRow) -> usize, least: usize| rows.iter().map(f).fold(least, usize::max) + 2;
    let (cw, fw) = (
        wide(|r| r.call.chars().count(), 8),
        wide(|r| r.filter.chars().count(), 6),
    );
    let _ = writeln!(
        s,
        "{:<6}{:<cw$}{:>4}{:>7}{:>8}{:>6}  {:<fw$}{:>10}",
        "layer", "strategy", "in", "evals", "failed", "kept", "filter", "cost"
    );
    let dash = |n: Option<usize>| n.map_or("-".to_string(), |n| n.to_string());
    for row in rows {
        let _ = writeln!(
            s,
            "{:<6}{:<cw$}{:>4}{:>7}{:>8}{:>6}  {:<fw$}{:>10}",
            row.layer,
            row.call,
            dash(row.input),
            row.evaluated,
            row.failed,
            dash(row.kept),
            row.filter,
            duration(row.cost_s)
        );
    }
    let Some(table) = best_table(info, trials) else {
        if let Some(e) = stop_reason(info) {
            let _ = writeln!(s, "\nthe run stopped: {e}");
        }
        return s;
    };
    let _ = writeln!(s, "\nbest by {}", table.metric.arrow());
    let _ = write!(s, "{:<6}{:<8}{:<14}", "rank", "trial", "hash");
    for c in &table.columns {
        let _ = write!(s, "{c:>16}");
    }
    let _ = writeln!(s);
    for (rank, r) in table.rows.iter().enumerate() {
        let _ = write!(
            s,
            "{:<6}{:<8}{:<14}",
            rank + 1,
            format!("#{}", r.seq),
            &r.hash[..12.min(r.hash.len())]
        );
        for c in &table.columns {
            let v = r
                .metrics
                .get(c)
                .map_or("-".to_string(), |v| show_metric(c, *v));
            let _ = write!(s, "{v:>16}");
        }
        let _ = writeln!(s);
        if let Some(a) = r.assignment.as_object() {
            let values: Vec<String> = a
                .iter()
                .map(|(k, v)| format!("{k} = {}", show_value(v)))
                .collect();
            let _ = writeln!(s, "      {}", values.join(", "));
        }
        let _ = writeln!(
            s,
            "      evaluated at {}",
            trail(trials, &r.hash).join(" → ")
        );
    }
    s
}

/// One trial as `nasc export --format json` writes it.
fn trial_json(t: &TrialRow) -> serde_json::Value {
    serde_json::json!({
        "trial": t.seq,
        "layer": t.layer + 1,
        "hash": t.hash,
        "fidelity": {"steps": t.steps},
        "status": t.status,
        "reason": t.reason,
        "reused_from": t.reused_from,
        "seed": t.seed,
        "assignment": t.assignment,
        "metrics": t.metrics,
        "wall_s": t.wall_s,
        "started": t.started,
        "finished": t.finished,
    })
}

/// The whole run as one JSON object (`nasc run --format json`, `nasc show --format json`).
fn run_json(info: &RunInfo, layers: &[LayerRow], trials: &[TrialRow]) -> serde_json::Value {
    serde_json::json!({
        "run": info.id,
        "space": info.space,
        "file": info.file,
        "seed": info.seed,
        "status": info.status,
        "plan": info.plan,
        "result": info.result,
        "layers": layers.iter().map(|l| serde_json::json!({
            "layer": l.index + 1,
            "strategy": l.strategy,
            "args": l.args,
            "filter": l.filter,
            "input": l.input,
            "output": l.output,
            "stats": l.stats,
            "cost_s": l.cost_s,
        })).collect::<Vec<_>>(),
        "best": best_seqs(info).iter().filter_map(|q| trials.iter().find(|t| t.seq == *q)).map(trial_json).collect::<Vec<_>>(),
        "trials": trials.len(),
    })
}

/// `nasc runs`: the runs of a store, one line each.
pub fn runs(store_path: &Path, color: super::ColorChoice) -> i32 {
    let store = match open_existing_store(store_path, color) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let all = match store.runs() {
        Ok(r) => r,
        Err(e) => {
            eprint!(
                "{}",
                store_failure(e.0, "check the store's path", color_on(color))
            );
            return 2;
        }
    };
    if all.is_empty() {
        let text = format!("no runs in {}\n", store_path.display());
        return super::fail::write_stdout(&text, "the list of runs", color);
    }
    let mut text = format!(
        "{:<5}{:<10}{:<20}{:>8}{:>8}{:>8}  file\n",
        "run", "status", "space", "trials", "failed", "layers"
    );
    for r in all {
        text += &format!(
            "{:<5}{:<10}{:<20}{:>8}{:>8}{:>8}  {}\n",
            r.info.id,
            r.info.status.as_str(),
            r.info.space,
            r.finished_trials,
            r.failed_trials,
            r.layers_done,
            r.info.file
        );
    }
    super::fail::write_stdout(&text, "the list of runs", color)
}

/// A run with its layers and trials, as the store holds them.
pub(crate) struct Stored {
    /// The run.
    pub(crate) info: RunInfo,
    /// Its recorded layers, by index.
    pub(crate) layers: Vec<LayerRow>,
    /// Its trials, by seq.
    pub(crate) trials: Vec<TrialRow>,
}

/// Run `id` of `store`, `None` when there is none.
fn load(store: &Store, id: i64) -> Result<Option<Stored>, String> {
    let Some(info) = store.run(id).map_err(|e| e.0)? else {
        return Ok(None);
    };
    let layers = store.layers(id).map_err(|e| e.0)?;
    let trials = store.trials(id).map_err(|e| e.0)?;
    Ok(Some(Stored {
        info,
        layers,
        trials,
    }))
}

/// Run `id` of the store at `store_path`, or prints why not (`E038`: the store does not
/// open, has no such run, or cannot be read); exit code 2 then.
pub(crate) fn load_run(
    store_path: &Path,
    id: i64,
    color: super::ColorChoice,
) -> Result<Stored, i32> {
    let store = open_existing_store(store_path, color)?;
    let (message, help) = match load(&store, id) {
        Ok(Some(stored)) => return Ok(stored),
        Ok(None) => (
            format!("no run {id} in `{}`", store_path.display()),
            "`nasc runs` lists the runs of a store",
        ),
        Err(e) => (e, "check the store's path"),
    };
    eprint!("{}", store_failure(message, help, color_on(color)));
    Err(2)
}

/// `nasc show RUN`.
pub fn show(store_path: &Path, id: i64, json: bool, color: super::ColorChoice) -> i32 {
    match load_run(store_path, id, color) {
        Ok(Stored {
            info,
            layers,
            trials,
        }) => {
            let text = match json {
                true => format!("{}\n", run_json(&info, &layers, &trials)),
                false => render_run(&info, &layers, &trials),
            };
            super::fail::write_stdout(&text, "the run", color)
        }
        Err(code) => code,
    }
}

/// How `nasc export` writes trials.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// A JSON array of objects.
    Json,
    /// CSV: one row per trial, a column per hyperparameter and per metric.
    Csv,
}

/// `nasc export RUN`: every trial of a run, to standard output.
pub fn export(store_path: &Path, id: i64, format: ExportFormat, color: super::ColorChoice) -> i32 {
    let store = match open_existing_store(store_path, color) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let trials = match store.run(id) {
        Ok(Some(_)) => match store.trials(id) {
            Ok(t) => t,
            Err(e) => {
                eprint!(
                    "{}",
                    store_failure(e.0, "check the store's path", color_on(color))
                );
                return 2;
            }
        },
        Ok(None) => {
            eprint!(
                "{}",
                store_failure(
                    format!("no run {id} in `{}`", store_path.display()),
                    "`nasc runs` lists the runs of a store",
                    color_on(color)
                )
            );
            return 2;
        }
        Err(e) => {
            eprint!(
                "{}",
                store_failure(e.0, "check the store's path", color_on(color))
            );
            return 2;
        }
    };
    let text = match format {
        ExportFormat::Json => {
            let all: Vec<serde_json::Value> = trials.iter().map(trial_json).collect();
            format!("{}\n", serde_json::Value::Array(all))
        }
        ExportFormat::Csv => to_csv(&trials),
    };
    super::fail::write_stdout(&text, "the export", color)
}

/// Trials as CSV: fixed columns, then each hyperparameter path, then each metric.
fn to_csv(trials: &[TrialRow]) -> String {
    let mut hypers: Vec<String> = Vec::new();
    let mut metrics: Vec<String> = Vec::new();
    for t in trials {
        if let Some(a) = t.assignment.as_object() {
            for k in a.keys() {
                if !hypers.contains(k) {
                    hypers.push(k.clone());
                }
            }
        }
        for k in t.metrics.keys() {
            if !metrics.contains(k) {
                metrics.push(k.clone());
            }
        }
    }
    metrics.sort();
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = [
        "trial",
        "layer",
        "hash",
        "steps",
        "status",
        "reason",
        "reused_from",
        "seed",
        "wall_s",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // A hyperparameter or metric named like a column before it (the metrics `steps` and
    // `wall_s`, what the trial ran, beside the fidelity asked for and the trial's time) is
    // told apart by its kind: `assignment.seed`, `metrics.steps`.
    for (names, kind) in [(&hypers, "assignment"), (&metrics, "metrics")] {
        for n in names {
            let taken = header.contains(n);
            header.push(if taken {
                format!("{kind}.{n}")
            } else {
                n.clone()
            });
        }
    }
    let _ = w.write_record(&header);
    for t in trials {
        let mut row = vec![
            t.seq.to_string(),
            (t.layer + 1).to_string(),
            t.hash.clone(),
            t.steps.to_string(),
            t.status.as_str().to_string(),
            t.reason.clone().unwrap_or_default(),
            t.reused_from.map(|r| r.to_string()).unwrap_or_default(),
            t.seed.to_string(),
            format!("{}", t.wall_s),
        ];
        for h in &hypers {
            row.push(match t.assignment.get(h) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
                None => String::new(),
            });
        }
        for m in &metrics {
            row.push(t.metrics.get(m).map(|v| v.to_string()).unwrap_or_default());
        }
        let _ = w.write_record(&row);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// Progress of a run on standard error: a bar per layer (trials done, the best so far,
/// the time left), the current trial's training steps, and a line per finished trial.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    show: bool,
    layers: usize,
    layer: usize,
    rank: Metric,
    best: Option<f64>,
    done: u64,
}

impl Progress {
    fn new(layers: usize, show: bool, rank: &Metric) -> Progress {
        Progress {
            bar: None,
            show,
            layers,
            layer: 0,
            rank: rank.clone(),
            best: None,
            done: 0,
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    fn line(&self, text: String) {
        match &self.bar {
            Some(bar) if !bar.is_hidden() => bar.println(text),
            _ if self.show => eprintln!("{text}"),
            _ => {}
        }
    }

    fn prefix(&self) -> String {
        let best = self.best.map_or(String::new(), |b| {
            format!(
                "  best {} {}",
                self.rank.name,
                show_metric(&self.rank.name, b)
            )
        });
        format!("layer {}/{}{best}", self.layer + 1, self.layers)
    }
}

impl Watcher for Progress {
    fn layer_start(&mut self, index: usize, stage: &Stage, planned: Option<usize>, input: usize) {
        self.finish();
        self.layer = index;
        self.best = None;
        self.done = 0;
        let filter = stage
            .filter
            .as_ref()
            .map_or(String::new(), |f| format!(" |> {}", f.text));
        self.line(format!(
            "layer {}/{}: {}{filter}, {input} candidates in",
            index + 1,
            self.layers,
            stage.text
        ));
        if self.show {
            let bar = indicatif::ProgressBar::new(planned.unwrap_or(0) as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{prefix} {bar:24} {pos}/{len} trials  {msg}  {elapsed} (eta {eta})",
            ) {
                bar.set_style(style);
            }
            bar.set_prefix(self.prefix());
            self.bar = Some(bar);
        }
    }

    fn asked(&mut self, n: usize) {
        if let Some(bar) = &self.bar {
            let len = bar.length().unwrap_or(0).max(self.done + n as u64);
            bar.set_length(len);
        }
    }

    fn trial_start(&mut self, seq: i64, arch: &crate::interp::Arch, steps: usize) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!(
                "trial #{seq} {} training {steps} steps",
                &arch.hash_hex()[..12]
            ));
        }
    }

    fn step(&mut self, step: usize, steps: usize, loss: f64) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("step {step}/{steps} loss {loss:.3}"));
        }
    }

    fn trial_done(&mut self, t: &Evaluated, how: How) {
        self.done += 1;
        if !t.failed {
            if let Some(v) = t.metrics.get(&self.rank.name) {
                if self.best.is_none_or(|b| self.rank.order(*v, b).is_lt()) {
                    self.best = Some(*v);
                }
            }
        }
        let what = match (how, t.failed) {
            (_, true) => format!("failed: {}", t.reason.as_deref().unwrap_or("no reason")),
            _ => {
                // The metric the run ranks by first (`score` with weighted objectives),
                // then the usual ones.
                let mut shown: Vec<&str> = vec![self.rank.name.as_str()];
                for m in ["val_loss", "val_accuracy", "params"] {
                    if !shown.contains(&m) {
                        shown.push(m);
                    }
                }
                let parts: Vec<String> = shown
                    .iter()
                    .filter_map(|m| {
                        t.metrics
                            .get(*m)
                            .map(|v| format!("{m} {}", show_metric(m, *v)))
                    })
                    .collect();
                parts.join("  ")
            }
        };
        let how = match how {
            How::Evaluated => format!("{:.1} s", t.wall_s),
            How::Reused => format!("same as #{}", t.reused_from.unwrap_or(-1)),
            How::Stored => "from the store".into(),
            How::Elsewhere => "by another process".into(),
        };
        self.line(format!(
            "  #{:<4} {}  {:>5} steps  {what}  ({how})",
            t.seq,
            &t.arch.hash_hex()[..12],
            t.steps
        ));
        if let Some(bar) = &self.bar {
            bar.set_position(self.done);
            bar.set_prefix(self.prefix());
            bar.set_message("");
        }
    }

    fn layer_done(&mut self, index: usize, row: &LayerRow, kept: &[Evaluated]) {
        let filter = if row.filter.is_empty() {
            "all".to_string()
        } else {
            row.filter.clone()
        };
        self.line(format!(
            "layer {} done: {} evaluated, {} kept ({filter}), {}",
            index + 1,
            row.stats
                .get("evaluated")
                .and_then(|v| v.as_u64())
                .unwrap_or(0),
            kept.len(),
            duration(row.cost_s)
        ));
    }
}
