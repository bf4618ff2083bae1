//! Running a search from source text with any [`Evaluator`], without the command line:
//! what strategy tests, strategy benchmarks and a tabular evaluator use. The run is
//! recorded in the given store like one of `nasc run`, so it can be read back, shown and
//! exported the same way.

use std::path::PathBuf;

use super::plan;
use super::run::{Evaluator, Outcome, RunError, Runner, Watcher};
use crate::check;
use crate::diag::Sink;
use crate::interp::Interp;
use crate::store::{self, RunStatus, Store};

/// Watches nothing.
pub struct Silent;

impl Watcher for Silent {}

/// Runs the pipeline of the first space in `text` (imports resolved against `dir`) with
/// `evaluator` and seed `seed`, recorded as a new run of `store`. Errors are given as
/// text: the first diagnostic, or why the run stopped.
pub fn run_text(
    text: &str,
    dir: Option<PathBuf>,
    evaluator: &mut dyn Evaluator,
    seed: u64,
    store: &Store,
) -> Result<Outcome, String> {
    let mut sink = Sink::default();
    let program = check::load("search.nas", text.to_string(), dir, &mut sink);
    let checked = check::check(program, &mut sink);
    let first_error = |sink: Sink| {
        sink.into_sorted()
            .into_iter()
            .find(|d| d.is_error())
            .map(|d| format!("{}: {}", d.code, d.message))
    };
    if sink.has_errors() {
        return Err(first_error(sink).unwrap_or_default());
    }
    let space = checked.spaces.first().ok_or("no space in the text")?;
    let interp = Interp::new(&checked, space).map_err(|e| e.message)?;
    let Some(plan) = plan::plan(&checked, space, &mut sink) else {
        return Err(first_error(sink).unwrap_or_default());
    };
    let run = store
        .create_run("search.nas", &space.name, "", text, seed, &plan.to_json())
        .map_err(|e| e.0)?;
    let mut runner = Runner {
        store,
        run,
        seed,
        interp: &interp,
        plan: &plan,
        evaluator,
        watcher: &mut Silent,
        owner: store::owner_id(),
        started: store::now(),
    };
    let outcome = runner.run().map_err(|e| match e {
        RunError::Layer(i, e) => format!("layer {}: {} ({})", i + 1, e.message, e.help),
        RunError::KeptNothing(i, why) => format!("layer {} kept nothing: {why}", i + 1),
        RunError::Store(e) => e.0,
    })?;
    store
        .finish_run(run, RunStatus::Done, &outcome.result_json())
        .map_err(|e| e.0)?;
    Ok(outcome)
}
