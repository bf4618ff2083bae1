//! The results store of `nasc run`: one SQLite file (by default `.nasc/store.db`) holding
//! runs, their trials and their finished pipeline layers, so that a run can be resumed after
//! a crash and several processes can share the work of one run. Trials are claimed in
//! `IMMEDIATE` transactions, so two processes never both own one trial; a claim held by a
//! dead process (see [`is_dead`]) is taken over. The file is opened in WAL mode with
//! `synchronous = NORMAL`: a committed transaction survives a crash of the process, but a
//! power loss or OS crash may lose the last transactions (never corrupt the file). JSON
//! columns are stored as JSON text; metric values that are not finite (NaN, infinities) have
//! no JSON form and are dropped from the metrics map when a trial is written. A `u64` seed
//! is stored as the `i64` with the same bits. The schema version lives in
//! `PRAGMA user_version`; a store written by a newer nasc is refused.

use rusqlite::types::Type;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

#[cfg(test)]
mod tests;

/// The schema version this nasc writes and reads.
pub const SCHEMA_VERSION: i64 = 1;

/// The schema of version 1.
const SCHEMA: &str = "
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    created     REAL NOT NULL,
    file        TEXT NOT NULL,
    space       TEXT NOT NULL,
    source_hash TEXT NOT NULL,
    source      TEXT NOT NULL,
    seed        INTEGER NOT NULL,
    plan        TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    finished    REAL,
    result      TEXT
);
CREATE TABLE trials (
    run         INTEGER NOT NULL REFERENCES runs(id),
    seq         INTEGER NOT NULL,
    layer       INTEGER NOT NULL,
    hash        TEXT NOT NULL,
    steps       INTEGER NOT NULL,
    seed        INTEGER NOT NULL,
    assignment  TEXT NOT NULL,
    arch        TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
    reason      TEXT,
    metrics     TEXT NOT NULL,
    report      TEXT,
    reused_from INTEGER,
    owner       TEXT,
    started     REAL,
    heartbeat   REAL,
    finished    REAL,
    wall_s      REAL NOT NULL,
    PRIMARY KEY (run, seq)
) WITHOUT ROWID;
CREATE INDEX trials_by_key ON trials (run, hash, steps);
CREATE TABLE layers (
    run         INTEGER NOT NULL REFERENCES runs(id),
    idx         INTEGER NOT NULL,
    strategy    TEXT NOT NULL,
    args        TEXT NOT NULL,
    filter_text TEXT NOT NULL,
    input       TEXT NOT NULL,
    output      TEXT NOT NULL,
    stats       TEXT NOT NULL,
    cost_s      REAL NOT NULL,
    finished    REAL NOT NULL,
    PRIMARY KEY (run, idx)
) WITHOUT ROWID;
";

/// A store error: what failed, in words (e.g. "cannot open `.nasc/store.db`: ...").
#[derive(Debug, Clone, PartialEq)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

/// The result of a store operation.
pub type Result<T> = std::result::Result<T, StoreError>;

/// The state of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Begun and not finished (possibly abandoned by a crash, and resumable).
    Running,
    /// Finished with a result.
    Done,
    /// Finished with an error.
    Failed,
}

impl RunStatus {
    /// Its text in the store: "running", "done" or "failed".
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Done => "done",
            RunStatus::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Option<RunStatus> {
        [RunStatus::Running, RunStatus::Done, RunStatus::Failed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// The state of a trial.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialStatus {
    /// Claimed by an owner and being evaluated.
    Running,
    /// Evaluated, with metrics.
    Ok,
    /// Evaluated and failed, with a reason.
    Failed,
}

impl TrialStatus {
    /// Its text in the store: "running", "ok" or "failed".
    pub fn as_str(self) -> &'static str {
        match self {
            TrialStatus::Running => "running",
            TrialStatus::Ok => "ok",
            TrialStatus::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Option<TrialStatus> {
        [TrialStatus::Running, TrialStatus::Ok, TrialStatus::Failed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// A run as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct RunInfo {
    /// Its id, 1, 2, ... in order of creation.
    pub id: i64,
    /// When it was created, in unix seconds.
    pub created: f64,
    /// The `.nas` path as given (absolute).
    pub file: String,
    /// The space searched.
    pub space: String,
    /// A hex digest of the sources, to refuse a resume after edits.
    pub source_hash: String,
    /// The main file's text, kept for transparency.
    pub source: String,
    /// The run's seed.
    pub seed: u64,
    /// The pipeline as JSON (layers, args, filters).
    pub plan: serde_json::Value,
    /// Its state.
    pub status: RunStatus,
    /// When it finished, in unix seconds.
    pub finished: Option<f64>,
    /// The final answer as JSON once done (or an error description once failed).
    pub result: Option<serde_json::Value>,
}

/// One trial as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct TrialRow {
    /// The run it belongs to.
    pub run: i64,
    /// Its index within the run, 0-based, unique per run.
    pub seq: i64,
    /// Its 0-based pipeline layer.
    pub layer: i64,
    /// The architecture hash (32 hex digits).
    pub hash: String,
    /// The fidelity: training steps.
    pub steps: i64,
    /// The training seed.
    pub seed: u64,
    /// The assignment of the space's choices, as JSON.
    pub assignment: serde_json::Value,
    /// The concrete architecture, as JSON.
    pub arch: serde_json::Value,
    /// Its state.
    pub status: TrialStatus,
    /// Why it failed.
    pub reason: Option<String>,
    /// The measured metrics (finite values only: others are dropped when written).
    pub metrics: BTreeMap<String, f64>,
    /// The full training report (curve included).
    pub report: Option<serde_json::Value>,
    /// The seq of the trial whose result this one reuses (same hash and steps).
    pub reused_from: Option<i64>,
    /// The "host:pid" of the process that claimed it.
    pub owner: Option<String>,
    /// When it was claimed, in unix seconds.
    pub started: Option<f64>,
    /// The owner's last sign of life, in unix seconds.
    pub heartbeat: Option<f64>,
    /// When it finished, in unix seconds.
    pub finished: Option<f64>,
    /// The cost of the evaluation in seconds (0 for reused).
    pub wall_s: f64,
}

/// One finished pipeline layer as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerRow {
    /// The run it belongs to.
    pub run: i64,
    /// Its 0-based index in the pipeline.
    pub index: i64,
    /// The strategy, e.g. "random".
    pub strategy: String,
    /// The stage arguments as a JSON object.
    pub args: serde_json::Value,
    /// The filter as written, e.g. "keep top 3 by val_loss", or "" when none.
    pub filter: String,
    /// The hashes that went in.
    pub input: Vec<String>,
    /// The hashes that came out.
    pub output: Vec<String>,
    /// Anything else (counts of trained/reused/failed, rejections).
    pub stats: serde_json::Value,
    /// Its cost in seconds.
    pub cost_s: f64,
    /// When it finished, in unix seconds.
    pub finished: f64,
}

/// A run with its counts, for `nasc runs`.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    /// The run.
    pub info: RunInfo,
    /// Its trials, in any state.
    pub trials: i64,
    /// Its trials that are finished (ok or failed).
    pub finished_trials: i64,
    /// Its trials that failed.
    pub failed_trials: i64,
    /// Its recorded layers.
    pub layers_done: i64,
}

/// What claiming a trial found.
#[derive(Clone, Debug, PartialEq)]
pub enum Claim {
    /// This process now owns the trial and must evaluate it and call `finish_trial`.
    Mine,
    /// Another live process is evaluating it; poll `trial()` until it is finished.
    Taken {
        /// The "host:pid" of that process.
        owner: String,
    },
    /// It is already finished: here is its row.
    Finished(Box<TrialRow>),
}

/// An open store. It is `Send` and `Sync`: calls from several threads share one connection
/// in turn; other processes (or other `Store`s) on the same file use their own.
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
    /// Opened for reading as immutable while its WAL journal holds changes: what it reads
    /// is the store as of its last checkpoint.
    journal_unread: bool,
}

const RUN_COLUMNS: &str =
    "id, created, file, space, source_hash, source, seed, plan, status, finished, result";
const TRIAL_COLUMNS: &str =
    "run, seq, layer, hash, steps, seed, assignment, arch, status, reason, \
     metrics, report, reused_from, owner, started, heartbeat, finished, wall_s";
const LAYER_COLUMNS: &str =
    "run, idx, strategy, args, filter_text, input, output, stats, cost_s, finished";

impl Store {
    /// Opens (creating the file, its parent folders and the schema if needed) the store at `path`.
    /// It uses a WAL journal, a `busy_timeout` of 30 s and `foreign_keys`, and refuses a
    /// store whose schema version is newer than [`SCHEMA_VERSION`]. A file that is not a
    /// SQLite database gives a `StoreError`.
    pub fn open(path: &Path) -> Result<Store> {
        let fail = |e: &dyn std::fmt::Display| {
            StoreError(format!("cannot open `{}`: {e}", path.display()))
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| fail(&e))?;
        }
        // SQLite reads a name that begins with `file:` as a URI; `./file:x.db` is a path.
        let name = match path.is_relative() {
            true => Path::new(".").join(path),
            false => path.to_path_buf(),
        };
        let mut conn = Connection::open(&name).map_err(|e| fail(&e))?;
        init(&mut conn)
            .map_err(|e| fail(&e))?
            .map_err(|e| fail(&e))?;
        Ok(Store {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
            journal_unread: false,
        })
    }

    /// Opens the store at `path` for reading only, creating and changing nothing: for
    /// commands that only read (`runs`, `show`, `export`, `report`), so that a store
    /// shared read-only (a file or folder without write permission) can be read. In a
    /// folder it cannot write, where SQLite cannot make the WAL's shared-memory file, the
    /// file is read as immutable: as of its last checkpoint, should a run still be
    /// writing it.
    /// Refuses a file that does not exist, is not a nasc store, or is newer than
    /// [`SCHEMA_VERSION`].
    pub fn open_read_only(path: &Path) -> Result<Store> {
        let fail = |e: &dyn std::fmt::Display| {
            StoreError(format!("cannot open `{}`: {e}", path.display()))
        };
        if !path.is_file() {
            return Err(fail(&"no such file"));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let open = |name: &str| -> rusqlite::Result<(Connection, i64)> {
            let conn = Connection::open_with_flags(name, flags)?;
            conn.busy_timeout(Duration::from_secs(30))?;
            let version = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            Ok((conn, version))
        };
        let uri = |extra: &str| format!("file:{}{extra}", uri_path(path));
        let mut journal_unread = false;
        let (conn, version) = match open(&uri("")) {
            Ok(x) => x,
            // WAL needs its `-shm` file, which a folder without write permission cannot
            // get: nothing can be writing there, so the file is read as it stands.
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly
                ) =>
            {
                let mut wal = path.as_os_str().to_owned();
                wal.push("-wal");
                journal_unread = std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0);
                open(&uri("?immutable=1")).map_err(|e| fail(&e))?
            }
            Err(e) => return Err(fail(&e)),
        };
        if version > SCHEMA_VERSION {
            return Err(fail(&format!(
                "it was written by a newer nasc (schema version {version}; this nasc knows up to {SCHEMA_VERSION})"
            )));
        }
        if version == 0 && journal_unread {
            return Err(fail(
                &"what it holds is still in its journal (`-wal`), which cannot be read without write access to its folder",
            ));
        }
        if version == 0 {
            return Err(fail(&"it is not a nasc store"));
        }
        Ok(Store {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
            journal_unread,
        })
    }

    /// Whether the store was opened for reading without its WAL journal, which holds
    /// changes (a folder this user cannot write): it reads as of its last checkpoint.
    pub fn journal_unread(&self) -> bool {
        self.journal_unread
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the connection, naming `what` failed in the error.
    fn with<T>(
        &self,
        what: &str,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let mut conn = self
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut conn).map_err(|e| {
            StoreError(format!(
                "store `{}`: cannot {what}: {e}",
                self.path.display()
            ))
        })
    }

    /// Runs `f` in an IMMEDIATE transaction, committed when `f` returns `Ok`.
    fn write<T>(
        &self,
        what: &str,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<std::result::Result<T, String>>,
    ) -> Result<T> {
        let out = self.with(what, |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            if out.is_ok() {
                tx.commit()?;
            }
            Ok(out)
        })?;
        out.map_err(StoreError)
    }

    /// A new run, status Running; returns its id (1, 2, ...).
    pub fn create_run(
        &self,
        file: &str,
        space: &str,
        source_hash: &str,
        source: &str,
        seed: u64,
        plan: &serde_json::Value,
    ) -> Result<i64> {
        self.write("create a run", |tx| {
            tx.execute(
                "INSERT INTO runs (created, file, space, source_hash, source, seed, plan, status) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'running')",
                params![
                    now(),
                    file,
                    space,
                    source_hash,
                    source,
                    seed as i64,
                    plan.to_string()
                ],
            )?;
            Ok(Ok(tx.last_insert_rowid()))
        })
    }

    /// The run `id`, if there is one.
    pub fn run(&self, id: i64) -> Result<Option<RunInfo>> {
        self.with(&format!("read run {id}"), |conn| {
            conn.query_row(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
                [id],
                run_from,
            )
            .optional()
        })
    }

    /// All runs, oldest first, with counts.
    pub fn runs(&self) -> Result<Vec<RunSummary>> {
        self.with("list runs", |conn| {
            let sql = format!(
                "SELECT {RUN_COLUMNS}, \
                 (SELECT count(*) FROM trials t WHERE t.run = runs.id), \
                 (SELECT count(*) FROM trials t WHERE t.run = runs.id AND t.status != 'running'), \
                 (SELECT count(*) FROM trials t WHERE t.run = runs.id AND t.status = 'failed'), \
                 (SELECT count(*) FROM layers l WHERE l.run = runs.id) \
                 FROM runs ORDER BY id"
            );
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map([], |r| {
                Ok(RunSummary {
                    info: run_from(r)?,
                    trials: r.get(11)?,
                    finished_trials: r.get(12)?,
                    failed_trials: r.get(13)?,
                    layers_done: r.get(14)?,
                })
            })?;
            rows.collect()
        })
    }

    /// The newest run with status Running, optionally only of this file and space.
    pub fn latest_unfinished(
        &self,
        file: Option<&str>,
        space: Option<&str>,
    ) -> Result<Option<RunInfo>> {
        self.with("find an unfinished run", |conn| {
            conn.query_row(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM runs WHERE status = 'running' \
                     AND (?1 IS NULL OR file = ?1) AND (?2 IS NULL OR space = ?2) ORDER BY id DESC LIMIT 1"
                ),
                params![file, space],
                run_from,
            )
            .optional()
        })
    }

    /// Marks a run done (with its result JSON) or failed (the result may be an error
    /// description) and sets `finished`. Status Running, or a run that does not exist, is an error.
    pub fn finish_run(&self, id: i64, status: RunStatus, result: &serde_json::Value) -> Result<()> {
        if status == RunStatus::Running {
            return Err(StoreError(format!(
                "cannot finish run {id} with status `running`"
            )));
        }
        self.write(&format!("finish run {id}"), |tx| {
            let n = tx.execute(
                "UPDATE runs SET status = ?2, result = ?3, finished = ?4 WHERE id = ?1",
                params![id, status.as_str(), result.to_string(), now()],
            )?;
            Ok(if n == 1 {
                Ok(())
            } else {
                Err(format!("cannot finish run {id}: there is no such run"))
            })
        })
    }

    /// Trial `seq` of `run`, if there is one.
    pub fn trial(&self, run: i64, seq: i64) -> Result<Option<TrialRow>> {
        self.with(&format!("read trial {seq} of run {run}"), |conn| {
            read_trial(conn, run, seq)
        })
    }

    /// All trials of a run, by seq.
    pub fn trials(&self, run: i64) -> Result<Vec<TrialRow>> {
        self.with(&format!("read the trials of run {run}"), |conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {TRIAL_COLUMNS} FROM trials WHERE run = ?1 ORDER BY seq"
            ))?;
            let rows = stmt.query_map([run], trial_from)?;
            rows.collect()
        })
    }

    /// Claims trial `seq` of `run` for `owner`, in one IMMEDIATE transaction. With no row yet,
    /// it inserts one (status Running, started = heartbeat = now, metrics empty) and returns
    /// `Mine`. A Running row held by `owner`, by no one, or by an owner for which
    /// `is_dead(owner, heartbeat)` is true is taken over (owner, started, heartbeat = now):
    /// `Mine`. A Running row of a live owner gives `Taken`, a finished row `Finished`. `row`
    /// carries run, seq, layer, hash, steps, seed, assignment and arch; its other fields are
    /// ignored. A stored row with another hash or steps than `row` is an error, since a
    /// resumed run must replay identically.
    pub fn claim(
        &self,
        row: &TrialRow,
        owner: &str,
        is_dead: &dyn Fn(&str, f64) -> bool,
    ) -> Result<Claim> {
        let (run, seq) = (row.run, row.seq);
        self.write(&format!("claim trial {seq} of run {run}"), |tx| {
            let t = now();
            let Some(old) = read_trial(tx, run, seq)? else {
                tx.execute(
                    &format!("INSERT INTO trials ({TRIAL_COLUMNS}) VALUES \
                              (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'running', NULL, '{{}}', NULL, NULL, ?9, ?10, ?10, NULL, 0)"),
                    params![run, seq, row.layer, row.hash, row.steps, row.seed as i64,
                            row.assignment.to_string(), row.arch.to_string(), owner, t],
                )?;
                return Ok(Ok(Claim::Mine));
            };
            if old.hash != row.hash || old.steps != row.steps {
                return Ok(Err(format!(
                    "trial {seq} of run {run} was {} at {} steps in the store, but the run now asks for {} at {} steps: \
                     the file or nasc changed since the run began",
                    hash12(&old.hash), old.steps, hash12(&row.hash), row.steps
                )));
            }
            if old.status != TrialStatus::Running {
                return Ok(Ok(Claim::Finished(Box::new(old))));
            }
            let last_sign = old.heartbeat.or(old.started).unwrap_or(0.0);
            match old.owner {
                Some(holder) if holder != owner && !is_dead(&holder, last_sign) => {
                    Ok(Ok(Claim::Taken { owner: holder }))
                }
                _ => {
                    tx.execute(
                        "UPDATE trials SET owner = ?3, started = ?4, heartbeat = ?4 WHERE run = ?1 AND seq = ?2",
                        params![run, seq, owner, t],
                    )?;
                    Ok(Ok(Claim::Mine))
                }
            }
        })
    }

    /// Updates the heartbeat of a trial this owner holds (no-op if another owner holds it now,
    /// or it is finished).
    pub fn heartbeat(&self, run: i64, seq: i64, owner: &str) -> Result<()> {
        self.write(&format!("update the heartbeat of trial {seq} of run {run}"), |tx| {
            tx.execute(
                "UPDATE trials SET heartbeat = ?4 WHERE run = ?1 AND seq = ?2 AND owner = ?3 AND status = 'running'",
                params![run, seq, owner, now()],
            )?;
            Ok(Ok(()))
        })
    }

    /// Records a finished trial (status, reason, metrics, report, reused_from and wall_s from
    /// `row`; finished = now) in one transaction, only if it is still Running and held by
    /// `owner`: returns `Ok(true)` when written, `Ok(false)` otherwise. Non-finite metric
    /// values are dropped. Status Running is an error.
    pub fn finish_trial(&self, row: &TrialRow, owner: &str) -> Result<bool> {
        let (run, seq) = (row.run, row.seq);
        if row.status == TrialStatus::Running {
            return Err(StoreError(format!(
                "cannot finish trial {seq} of run {run} with status `running`"
            )));
        }
        let finite: BTreeMap<&String, f64> = row
            .metrics
            .iter()
            .filter(|(_, v)| v.is_finite())
            .map(|(k, v)| (k, *v))
            .collect();
        let metrics = serde_json::to_string(&finite).map_err(|e| {
            StoreError(format!(
                "cannot encode the metrics of trial {seq} of run {run}: {e}"
            ))
        })?;
        self.write(&format!("finish trial {seq} of run {run}"), |tx| {
            let n = tx.execute(
                "UPDATE trials SET status = ?4, reason = ?5, metrics = ?6, report = ?7, reused_from = ?8, \
                 finished = ?9, wall_s = ?10 WHERE run = ?1 AND seq = ?2 AND owner = ?3 AND status = 'running'",
                params![run, seq, owner, row.status.as_str(), row.reason, metrics,
                        row.report.as_ref().map(|r| r.to_string()), row.reused_from, now(), row.wall_s],
            )?;
            Ok(Ok(n == 1))
        })
    }

    /// The lowest seq below `before` in `run` with this hash and steps (any status), if any.
    pub fn first_with_key(
        &self,
        run: i64,
        hash: &str,
        steps: i64,
        before: i64,
    ) -> Result<Option<i64>> {
        self.with(&format!("look up trials of run {run}"), |conn| {
            conn.query_row(
                "SELECT min(seq) FROM trials WHERE run = ?1 AND hash = ?2 AND steps = ?3 AND seq < ?4",
                params![run, hash, steps, before],
                |r| r.get(0),
            )
        })
    }

    /// Records (inserts or replaces) a finished layer.
    pub fn record_layer(&self, layer: &LayerRow) -> Result<()> {
        let list = |v: &Vec<String>| serde_json::Value::from(v.clone()).to_string();
        self.write(&format!("record layer {} of run {}", layer.index, layer.run), |tx| {
            tx.execute(
                &format!("INSERT OR REPLACE INTO layers ({LAYER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
                params![layer.run, layer.index, layer.strategy, layer.args.to_string(), layer.filter,
                        list(&layer.input), list(&layer.output), layer.stats.to_string(), layer.cost_s, layer.finished],
            )?;
            Ok(Ok(()))
        })
    }

    /// The recorded layers of a run, by index.
    pub fn layers(&self, run: i64) -> Result<Vec<LayerRow>> {
        self.with(&format!("read the layers of run {run}"), |conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {LAYER_COLUMNS} FROM layers WHERE run = ?1 ORDER BY idx"
            ))?;
            let rows = stmt.query_map([run], |r| {
                Ok(LayerRow {
                    run: r.get(0)?,
                    index: r.get(1)?,
                    strategy: r.get(2)?,
                    args: json_at(r, 3)?,
                    filter: r.get(4)?,
                    input: json_at(r, 5)?,
                    output: json_at(r, 6)?,
                    stats: json_at(r, 7)?,
                    cost_s: r.get(8)?,
                    finished: r.get(9)?,
                })
            })?;
            rows.collect()
        })
    }
}

/// Sets up a fresh connection: pragmas, then the schema when the file is new. The inner
/// error is a refusal in words (a newer schema, or a database that is not a store).
fn init(conn: &mut Connection) -> rusqlite::Result<std::result::Result<(), String>> {
    conn.busy_timeout(Duration::from_secs(30))?;
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))?;
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Ok(Err(format!(
            "it was written by a newer nasc (schema version {version}; this nasc knows up to {SCHEMA_VERSION})"
        )));
    }
    if version == 0 {
        let tables: i64 = tx.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
        if tables != 0 {
            return Ok(Err("it is a SQLite database but not a nasc store".into()));
        }
        tx.execute_batch(SCHEMA)?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    tx.commit()?;
    Ok(Ok(()))
}

/// `path` as the path of a `file:` URI: absolute, every byte but letters, digits, `/`
/// and `-._~` percent-encoded.
fn uri_path(path: &Path) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = String::new();
    for b in abs.to_string_lossy().bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'/' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The first 12 characters of a hash, for messages.
fn hash12(hash: &str) -> &str {
    hash.char_indices()
        .nth(12)
        .map_or(hash, |(i, _)| &hash[..i])
}

/// A conversion error at column `idx`, for text the store cannot read back.
fn bad_column(
    idx: usize,
    e: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, e.into())
}

/// The JSON text at column `idx`, decoded.
fn json_at<T: serde::de::DeserializeOwned>(r: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let text: String = r.get(idx)?;
    serde_json::from_str(&text).map_err(|e| bad_column(idx, e))
}

/// The optional JSON text at column `idx`, decoded.
fn opt_json_at(r: &Row<'_>, idx: usize) -> rusqlite::Result<Option<serde_json::Value>> {
    let text: Option<String> = r.get(idx)?;
    text.map(|t| serde_json::from_str(&t).map_err(|e| bad_column(idx, e)))
        .transpose()
}

/// A run from a row of `RUN_COLUMNS`.
fn run_from(r: &Row<'_>) -> rusqlite::Result<RunInfo> {
    let status: String = r.get(8)?;
    Ok(RunInfo {
        id: r.get(0)?,
        created: r.get(1)?,
        file: r.get(2)?,
        space: r.get(3)?,
        source_hash: r.get(4)?,
        source: r.get(5)?,
        seed: r.get::<_, i64>(6)? as u64,
        plan: json_at(r, 7)?,
        status: RunStatus::parse(&status)
            .ok_or_else(|| bad_column(8, format!("unknown run status `{status}`")))?,
        finished: r.get(9)?,
        result: opt_json_at(r, 10)?,
    })
}

/// A trial from a row of `TRIAL_COLUMNS`.
fn trial_from(r: &Row<'_>) -> rusqlite::Result<TrialRow> {
    let status: String = r.get(8)?;
    Ok(TrialRow {
        run: r.get(0)?,
        seq: r.get(1)?,
        layer: r.get(2)?,
        hash: r.get(3)?,
        steps: r.get(4)?,
        seed: r.get::<_, i64>(5)? as u64,
        assignment: json_at(r, 6)?,
        arch: json_at(r, 7)?,
        status: TrialStatus::parse(&status)
            .ok_or_else(|| bad_column(8, format!("unknown trial status `{status}`")))?,
        reason: r.get(9)?,
        metrics: json_at(r, 10)?,
        report: opt_json_at(r, 11)?,
        reused_from: r.get(12)?,
        owner: r.get(13)?,
        started: r.get(14)?,
        heartbeat: r.get(15)?,
        finished: r.get(16)?,
        wall_s: r.get(17)?,
    })
}

/// Trial `seq` of `run`, read on `conn` (or in a transaction).
fn read_trial(conn: &Connection, run: i64, seq: i64) -> rusqlite::Result<Option<TrialRow>> {
    conn.query_row(
        &format!("SELECT {TRIAL_COLUMNS} FROM trials WHERE run = ?1 AND seq = ?2"),
        [run, seq],
        trial_from,
    )
    .optional()
}

/// This host's name: /etc/hostname, else $HOSTNAME, else "localhost".
fn host() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        let from_file = std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|s| s.trim().to_string());
        from_file
            .filter(|s| !s.is_empty())
            .or_else(|| {
                std::env::var("HOSTNAME")
                    .ok()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
            })
            .unwrap_or_else(|| "localhost".to_string())
    })
}

/// This process as an owner: "host:pid" (host from /etc/hostname or $HOSTNAME, else "localhost").
pub fn owner_id() -> String {
    format!("{}:{}", host(), std::process::id())
}

/// Whether `owner` (last heartbeat at `heartbeat`, unix seconds) is gone. On this host, its
/// pid is not alive (Linux: /proc/PID is missing, or that process started after the heartbeat,
/// so the pid was reused; elsewhere the heartbeat rule); on another host, or for an owner that
/// is not "host:pid", it has not beaten for `stale_s` seconds.
pub fn is_dead(owner: &str, heartbeat: f64, stale_s: f64) -> bool {
    let stale = now() - heartbeat > stale_s;
    let Some((owner_host, pid)) = owner.rsplit_once(':') else {
        return stale;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return stale;
    };
    if owner_host != host() {
        return stale;
    }
    if cfg!(target_os = "linux") {
        if !Path::new(&format!("/proc/{pid}")).exists() {
            return true;
        }
        // A process that has ended but not been reaped yet (a worker killed by a signal
        // whose parent is still running) is a zombie: gone, though /proc still lists it.
        if process_state(pid).is_some_and(|s| s == 'Z' || s == 'X') {
            return true;
        }
        // A process that started after the owner's last heartbeat is not the owner.
        process_start(pid).is_some_and(|start| start > heartbeat + 5.0)
    } else {
        stale
    }
}

/// The state letter of process `pid` (`R`, `S`, `Z` for a zombie...; Linux only).
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The state is the first field after the command name, which may hold spaces.
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}

/// When process `pid` started, in unix seconds (Linux only; `None` where unknown).
fn process_start(pid: u32) -> Option<f64> {
    let boot: f64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at field 3; starttime is field 22.
    let rest = &stat[stat.rfind(')')? + 1..];
    let ticks: f64 = rest.split_whitespace().nth(19)?.parse().ok()?;
    // /proc reports in USER_HZ, which is 100 on Linux's supported architectures.
    Some(boot + ticks / 100.0)
}

/// Unix seconds now, as f64.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
