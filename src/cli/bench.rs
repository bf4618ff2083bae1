//! `nasc bench-strategies FILE`: search strategies compared on a tabular benchmark.
//!
//! The space's data must name a table of measured results (`nas_bench_201`), so a trial
//! is a lookup and a whole search takes well under a second. Each strategy runs with the
//! same budget of trials, once per seed, as a one-layer pipeline in place of the space's
//! own (`random(samples = N)`, `tpe(trials = N)`, `bo(trials = N)`, and
//! `evolution(population = P, generations = G)` with `P` about a tenth of `N` and
//! `G = N / P`), through [`harness::run_text`] on a temporary store. Per strategy it
//! prints the mean, standard deviation and standard error over the seeds of the best
//! value of the space's first objective found in the run, the simulated training time of
//! a run (the sum of its trials' costs: the table's training times of the architectures
//! it evaluated, repeats free) and the wall time. For random search it also prints the
//! exact expectation of the best of `N` uniform draws, from the table by order statistics
//! ([`tabular::expected_best`]), when the space is a plain product of the table's
//! operations (then drawing each decision uniformly is drawing architectures uniformly).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

use super::fail::Failure;
use super::sample::{open_space, with_checked, RunOutput};
use crate::check::{Checked, SpaceInfo};
use crate::diag::{Code, Diagnostic, Sink};
use crate::interp::strategy::{self, RandomSearch};
use crate::interp::{Domain, Interp, Value};
use crate::search::filter::Metric;
use crate::search::harness;
use crate::space::table::{self as layouts, Layout};
use crate::store::Store;
use crate::syntax::ast::{Config, Direction, Item, Member};
use crate::train::fetch;
use crate::train::tabular::{self, Table, TableEvaluator};

/// The strategies `--strategies` may name.
pub const STRATEGIES: &[&str] = &["random", "tpe", "evolution", "bo"];

/// What `nasc bench-strategies` was asked to do.
#[derive(Clone, Debug)]
pub struct BenchRequest {
    /// The `.nas` file.
    pub file: PathBuf,
    /// Trials per run.
    pub budget: usize,
    /// Runs per strategy, seeded `0..seeds`.
    pub seeds: u64,
    /// The strategies, in order.
    pub strategies: Vec<String>,
    /// One JSON object instead of a table.
    pub json: bool,
    /// No progress on standard error.
    pub quiet: bool,
}

/// The one-layer pipeline of `strategy` with a budget of `budget` trials.
pub fn pipeline_of(strategy: &str, budget: usize) -> Option<String> {
    Some(match strategy {
        "random" => format!("random(samples = {budget})"),
        "tpe" => format!("tpe(trials = {budget})"),
        "bo" => format!("bo(trials = {budget})"),
        "evolution" => {
            let population = ((budget + 5) / 10).max(2);
            let generations = (budget / population).max(1);
            format!("evolution(population = {population}, generations = {generations})")
        }
        _ => return None,
    })
}

/// `text` with the pipeline of the space `space` replaced by `pipeline` (one stage), or
/// added when it has none.
pub fn with_pipeline(checked: &Checked, space: &SpaceInfo, text: &str, pipeline: &str) -> String {
    let block = format!("pipeline {{\n        {pipeline}\n    }}");
    let items = &checked.program.file(space.file).items;
    let existing = items.iter().find_map(|item| match item {
        Item::Space(s) if s.name.name == space.name => s.members.iter().find_map(|m| match m {
            Member::Config(Config::Pipeline(_, span)) => Some(*span),
            _ => None,
        }),
        _ => None,
    });
    match existing {
        Some(span) => format!("{}{block}{}", &text[..span.start], &text[span.end..]),
        None => {
            // Before the space's closing brace.
            let end = space.span.end.saturating_sub(1);
            format!("{}    {block}\n{}", &text[..end], &text[end..])
        }
    }
}

/// One run of one strategy.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    /// The run's seed.
    pub seed: u64,
    /// The best value of the metric among its trials (`None` when none measured it).
    pub best: Option<f64>,
    /// Its trials, repeats included.
    pub trials: usize,
    /// The distinct architectures it evaluated (a repeat reuses the first result).
    pub distinct: usize,
    /// The sum of its trials' costs, in seconds of (simulated) training.
    pub cost_s: f64,
}

/// Runs `text`'s first space's pipeline once per seed in `seeds`, each trial looked up in
/// `table`, recording the runs in `store`; the best of `metric` per run.
pub fn run_seeds(
    text: &str,
    dir: Option<PathBuf>,
    table: &Rc<Table>,
    source: &Value,
    metric: &Metric,
    seeds: std::ops::Range<u64>,
    store: &Store,
) -> Result<Vec<RunResult>, String> {
    let mut out = Vec::new();
    for seed in seeds {
        let mut evaluator = TableEvaluator::new(table.clone(), source.clone());
        let outcome = harness::run_text(text, dir.clone(), &mut evaluator, seed, store)?;
        let best = outcome
            .trials
            .iter()
            .filter(|t| !t.failed)
            .filter_map(|t| t.metrics.get(&metric.name).copied())
            .min_by(|a, b| metric.order(*a, *b));
        out.push(RunResult {
            seed,
            best,
            trials: outcome.trials.len(),
            distinct: outcome
                .trials
                .iter()
                .filter(|t| t.reused_from.is_none())
                .count(),
            cost_s: outcome.trials.iter().map(|t| t.wall_s).sum(),
        });
    }
    Ok(out)
}

/// Mean, sample standard deviation and standard error of the mean.
pub fn mean_std_se(xs: &[f64]) -> (f64, f64, f64) {
    let n = xs.len() as f64;
    if xs.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let mean = xs.iter().sum::<f64>() / n;
    if xs.len() < 2 {
        return (mean, 0.0, 0.0);
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt(), var.sqrt() / n.sqrt())
}

/// The values of `metric` over the architectures random search draws uniformly: every
/// combination of the operations each key hyperparameter offers. `Err` says why drawing
/// each decision uniformly is not drawing those uniformly here (other hyperparameters,
/// constraints), or which combination the table lacks.
pub fn uniform_values(
    checked: &Checked,
    space: &SpaceInfo,
    interp: &Interp,
    table: &Table,
    metric: &str,
) -> Result<Vec<f64>, String> {
    let layout: &Layout = table.layout;
    let named = interp.named();
    if named.len() != layout.params.len() || !space.requires.is_empty() {
        return Err("the space has hyperparameters or constraints besides the table's key".into());
    }
    let mut per_param: Vec<Vec<usize>> = Vec::new();
    for param in layout.params {
        let hyper = named
            .iter()
            .find(|h| &*h.path == *param)
            .ok_or_else(|| format!("the space lacks `{param}`"))?;
        let Domain::Choice { alts } = &*hyper.domain else {
            return Err(format!("`{param}` is not a choice"));
        };
        let mut digits = Vec::new();
        for alt in alts {
            match &alt.value {
                Some(Value::Sym(op, p)) if p.is_empty() => {
                    let d = layout.ops.iter().position(|o| o == &&**op);
                    digits.push(d.ok_or_else(|| format!("`{op}` is no operation"))?);
                }
                _ => return Err(format!("`{param}` has an alternative that is no operation")),
            }
        }
        per_param.push(digits);
    }
    let product: usize = per_param.iter().map(Vec::len).product();
    match crate::space::count::count(checked, space, &[], None, None) {
        Ok(n) if n == num_bigint::BigUint::from(product) => {}
        _ => {
            return Err(
                "the space's architectures are not every combination of its operations".into(),
            )
        }
    }
    let mut values = Vec::with_capacity(product);
    let mut odometer = vec![0usize; per_param.len()];
    loop {
        let key: String = odometer
            .iter()
            .zip(&per_param)
            .map(|(&i, ds)| char::from(b'0' + ds[i] as u8))
            .collect();
        let entry = table
            .get(&key)
            .ok_or_else(|| format!("the table has no entry `{key}`"))?;
        let v = entry
            .metrics()
            .get(metric)
            .copied()
            .ok_or_else(|| format!("the table does not measure `{metric}`"))?;
        values.push(v);
        // The next combination, last position fastest.
        let mut k = per_param.len();
        loop {
            if k == 0 {
                return Ok(values);
            }
            k -= 1;
            odometer[k] += 1;
            if odometer[k] < per_param[k].len() {
                break;
            }
            odometer[k] = 0;
        }
    }
}

/// What one strategy gave over the seeds.
struct StrategyResult {
    name: String,
    pipeline: String,
    runs: Vec<RunResult>,
    wall_s: f64,
}

/// What the bench needs from the checked file.
struct Prepared {
    table: Rc<Table>,
    source: Value,
    metric: Metric,
    /// The uniform values for random search's exact expectation, or why there are none.
    uniform: Result<Vec<f64>, String>,
    /// The space's text with each strategy's pipeline.
    texts: Vec<(String, String, String)>,
    space: String,
}

/// `nasc bench-strategies`: the exit code.
pub fn run(
    req: &BenchRequest,
    message_format: super::MessageFormat,
    color: super::ColorChoice,
) -> i32 {
    if req.budget < 2 || req.seeds == 0 {
        return Failure::usage(
            format!(
                "`--budget {}` and `--seeds {}` compare nothing",
                req.budget, req.seeds
            ),
            "give a budget of at least 2 trials and at least 1 seed",
        )
        .print(message_format, color);
    }
    for s in &req.strategies {
        if !STRATEGIES.contains(&s.as_str()) {
            return Failure::usage(
                format!("no strategy `{s}` to compare"),
                format!("the strategies are {}", STRATEGIES.join(", ")),
            )
            .print(message_format, color);
        }
    }
    let (name, text, dir) = match super::check::read_input(&req.file) {
        Ok(x) => x,
        Err(f) => return f.print(message_format, color),
    };
    let (out, prepared) = with_checked(&name, text.clone(), dir.clone(), |checked, sink, out| {
        prepare(checked, &text, req, sink, out)
    });
    super::check::emit(&out.diagnostics, &out.sources, message_format, color);
    if let Some(f) = &out.failure {
        return f.print(message_format, color);
    }
    let Some(p) = prepared else {
        return 1;
    };
    let scratch = std::env::temp_dir().join(format!(
        "nasc-bench-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    let result = bench(&p, dir, req, &scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    match result {
        Ok(results) => {
            let text = if req.json {
                format!("{}\n", report_json(&p, req, &name, &results))
            } else {
                report_text(&p, req, &name, &results)
            };
            print!("{text}");
            0
        }
        Err(f) => f.print(message_format, color),
    }
}

/// Checks that the file can be benchmarked and opens its table; `None` after reporting why
/// not.
fn prepare(
    checked: &Checked,
    text: &str,
    req: &BenchRequest,
    sink: &mut Sink,
    out: &mut RunOutput,
) -> Option<Prepared> {
    let (info, interp) = open_space(checked, None, sink, out)?;
    if layouts::of_space(checked, info).is_none() {
        out.failure = Some(Failure::usage(
            format!(
                "space `{}` does not read a table of measured results",
                info.name
            ),
            "`nasc bench-strategies` looks every trial up in one: `data = \
             nas_bench_201(\"cifar10\")`, as in examples/nas_bench_201.nas",
        ));
        return None;
    }
    let Some(goal) = info.objectives.first() else {
        out.failure = Some(Failure::usage(
            format!("space `{}` has no `objective`", info.name),
            "say which metric the strategies compare on: `objective { maximize \
             val_accuracy }`",
        ));
        return None;
    };
    let metric = Metric {
        name: goal.metric.name.clone(),
        direction: goal.direction,
    };
    if !tabular::METRICS.contains(&metric.name.as_str()) {
        out.failure = Some(Failure::usage(
            format!(
                "the table does not measure `{}`, the first objective",
                metric.name
            ),
            format!(
                "make the first objective one the table measures: {}",
                tabular::METRICS.join(", ")
            ),
        ));
        return None;
    }
    let mut rng = strategy::rng(0);
    let probe = match strategy::sample(&interp, &mut RandomSearch, &mut rng, 1, 10_000) {
        Ok((mut a, _)) => a.remove(0),
        Err(strategy::SampleError::Build(e)) => {
            sink.push(super::sample::unbuildable(&e));
            return None;
        }
        Err(strategy::SampleError::AllRejected(stats)) => {
            sink.push(super::sample::all_rejected(&stats, info));
            return None;
        }
    };
    let table = match Table::open(&fetch::cache_dir(), &probe.data) {
        Ok(t) => Rc::new(t),
        Err(e) => {
            let span = info.data.as_ref().map_or(info.span, |d| d.span);
            sink.push(
                Diagnostic::error(Code::DataUnavailable, e.message, span, "this table")
                    .with_help(e.help),
            );
            return None;
        }
    };
    let uniform = uniform_values(checked, info, &interp, &table, &metric.name);
    let texts = req
        .strategies
        .iter()
        .filter_map(|s| {
            let pipeline = pipeline_of(s, req.budget)?;
            let source = with_pipeline(checked, info, text, &pipeline);
            Some((s.clone(), pipeline, source))
        })
        .collect();
    Some(Prepared {
        source: probe.data.clone(),
        table,
        metric,
        uniform,
        texts,
        space: info.name.clone(),
    })
}

/// Runs every strategy over every seed on a store in `scratch`.
fn bench(
    p: &Prepared,
    dir: Option<PathBuf>,
    req: &BenchRequest,
    scratch: &Path,
) -> Result<Vec<StrategyResult>, Failure> {
    std::fs::create_dir_all(scratch).map_err(|e| Failure::write(scratch, &e))?;
    let store = Store::open(&scratch.join("store.db")).map_err(|e| {
        Failure::new(
            super::fail::STORE,
            e.0,
            "the comparison keeps its runs in a store in the temporary folder: check that \
             it can be written (`TMPDIR` names another)",
        )
    })?;
    let mut results = Vec::new();
    for (name, pipeline, text) in &p.texts {
        let start = Instant::now();
        let runs = run_seeds(
            text,
            dir.clone(),
            &p.table,
            &p.source,
            &p.metric,
            0..req.seeds,
            &store,
        )
        .map_err(|e| {
            Failure::usage(
                format!("`{pipeline}` cannot run: {e}"),
                "`nasc run` on the space with this pipeline shows the failure at its line",
            )
        })?;
        let wall_s = start.elapsed().as_secs_f64();
        if !req.quiet {
            eprintln!("{pipeline}: {} runs in {:.1} s", runs.len(), wall_s);
        }
        results.push(StrategyResult {
            name: name.clone(),
            pipeline: pipeline.clone(),
            runs,
            wall_s,
        });
    }
    Ok(results)
}

/// The bests of the runs that found one.
fn bests(r: &StrategyResult) -> Vec<f64> {
    r.runs.iter().filter_map(|x| x.best).collect()
}

/// The best value of the whole table.
fn table_best(p: &Prepared) -> Option<(String, f64)> {
    p.table
        .iter()
        .filter_map(|(k, e)| Some((k, e.metrics().get(&p.metric.name).copied()?)))
        .min_by(|a, b| p.metric.order(a.1, b.1))
}

fn report_text(p: &Prepared, req: &BenchRequest, file: &str, results: &[StrategyResult]) -> String {
    let show = |v: f64| super::run::show_metric(&p.metric.name, v);
    // A spread, in the metric's unit (percentage points for accuracy).
    let spread = |v: f64| match p.metric.name.as_str() {
        "val_accuracy" => format!("{:.2}", 100.0 * v),
        _ => format!("{v:.4}"),
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        "space `{}` ({file}) on `{}` ({}, {} entries): best {} over {} trials, {} seeds each",
        p.space,
        p.table.layout.source,
        p.table.set,
        super::sample::grouped(p.table.len() as u64),
        p.metric.arrow(),
        req.budget,
        req.seeds
    );
    if p.metric.name == "val_accuracy" {
        let _ = writeln!(s, "(std and s.e. in percentage points)");
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{:<44} {:>5} {:>7} {:>9} {:>10} {:>7} {:>7} {:>14} {:>9}",
        "strategy",
        "runs",
        "trials",
        "distinct",
        "mean best",
        "std",
        "s.e.",
        "simulated/run",
        "wall"
    );
    for r in results {
        let b = bests(r);
        let (mean, std, se) = mean_std_se(&b);
        let trials = r.runs.iter().map(|x| x.trials).sum::<usize>() as f64 / r.runs.len() as f64;
        let distinct =
            r.runs.iter().map(|x| x.distinct).sum::<usize>() as f64 / r.runs.len() as f64;
        let cost = r.runs.iter().map(|x| x.cost_s).sum::<f64>() / r.runs.len() as f64;
        let _ = writeln!(
            s,
            "{:<44} {:>5} {:>7} {:>9} {:>10} {:>7} {:>7} {:>14} {:>9}",
            r.pipeline,
            b.len(),
            format!("{trials:.0}"),
            format!("{distinct:.1}"),
            show(mean),
            spread(std),
            spread(se),
            super::run::duration(cost),
            super::run::duration(r.wall_s)
        );
        if r.name == "random" {
            match &p.uniform {
                Ok(values) => {
                    let n = u32::try_from(req.budget).unwrap_or(u32::MAX);
                    let maximize = p.metric.direction == Direction::Maximize;
                    if let Some(exact) = tabular::expected_best(values, n, maximize) {
                        let away = if se > 0.0 {
                            format!(", the mean is {:.1} s.e. from it", (mean - exact) / se)
                        } else {
                            String::new()
                        };
                        let _ = writeln!(
                            s,
                            "  exact expectation of the best of {} uniform draws from {} architectures: {}{away}",
                            req.budget,
                            super::sample::grouped(values.len() as u64),
                            show(exact)
                        );
                    }
                }
                Err(why) => {
                    let _ = writeln!(s, "  no exact expectation: {why}");
                }
            }
        }
    }
    if let Some((key, v)) = table_best(p) {
        let _ = writeln!(s, "\nthe table's best: {} (key {key})", show(v));
    }
    s
}

fn report_json(
    p: &Prepared,
    req: &BenchRequest,
    file: &str,
    results: &[StrategyResult],
) -> serde_json::Value {
    let maximize = p.metric.direction == Direction::Maximize;
    let exact = p.uniform.as_ref().ok().and_then(|values| {
        tabular::expected_best(
            values,
            u32::try_from(req.budget).unwrap_or(u32::MAX),
            maximize,
        )
    });
    let strategies: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            let b = bests(r);
            let (mean, std, se) = mean_std_se(&b);
            serde_json::json!({
                "strategy": r.name,
                "pipeline": r.pipeline,
                "runs": r.runs.len(),
                "best": r.runs.iter().map(|x| x.best).collect::<Vec<_>>(),
                "trials": r.runs.iter().map(|x| x.trials).collect::<Vec<_>>(),
                "distinct": r.runs.iter().map(|x| x.distinct).collect::<Vec<_>>(),
                "simulated_s": r.runs.iter().map(|x| x.cost_s).collect::<Vec<_>>(),
                "mean": mean,
                "std": std,
                "se": se,
                "wall_s": r.wall_s,
            })
        })
        .collect();
    serde_json::json!({
        "file": file,
        "space": p.space,
        "table": p.table.layout.source,
        "set": p.table.set,
        "entries": p.table.len(),
        "metric": p.metric,
        "budget": req.budget,
        "seeds": req.seeds,
        "strategies": strategies,
        "random_exact": exact,
        "random_exact_unavailable": p.uniform.as_ref().err(),
        "table_best": table_best(p).map(|(k, v)| serde_json::json!({"key": k, "value": v})),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_strategy_gets_the_budget_in_trials() {
        assert_eq!(
            pipeline_of("random", 100).as_deref(),
            Some("random(samples = 100)")
        );
        assert_eq!(pipeline_of("tpe", 30).as_deref(), Some("tpe(trials = 30)"));
        assert_eq!(pipeline_of("bo", 30).as_deref(), Some("bo(trials = 30)"));
        // Evolution: about a tenth of the budget per generation, at least two.
        for (budget, population, generations) in [(100, 10, 10), (50, 5, 10), (12, 2, 6)] {
            assert_eq!(
                pipeline_of("evolution", budget),
                Some(format!(
                    "evolution(population = {population}, generations = {generations})"
                ))
            );
        }
        assert_eq!(pipeline_of("darts", 10), None);
    }

    #[test]
    fn mean_standard_deviation_and_standard_error() {
        let (mean, std, se) = mean_std_se(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(mean, 2.5);
        assert!((std - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((se - std / 2.0).abs() < 1e-12);
        assert_eq!(mean_std_se(&[7.0]), (7.0, 0.0, 0.0));
        assert!(mean_std_se(&[]).0.is_nan());
    }

    #[test]
    fn the_pipeline_is_replaced_or_added() {
        let base = "space s {\n    param w = choice(8, 16)\n    graph {\n        embedding(vocab = 4, dim = w)\n        lm_head(vocab = 4)\n    }\n";
        for text in [
            format!("{base}    pipeline {{\n        grid(steps = 2)\n    }}\n}}\n"),
            format!("{base}}}\n"),
        ] {
            let mut sink = Sink::default();
            let program = crate::check::load("t.nas", text.clone(), None, &mut sink);
            let checked = crate::check::check(program, &mut sink);
            assert!(!sink.has_errors());
            let out = with_pipeline(&checked, &checked.spaces[0], &text, "random(samples = 3)");
            assert!(
                out.ends_with("    pipeline {\n        random(samples = 3)\n    }\n}\n"),
                "{out}"
            );
            assert!(!out.contains("grid"), "{out}");
            assert!(out.starts_with(base), "{out}");
        }
    }
}
