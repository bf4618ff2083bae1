//! The search strategies on a cheap **synthetic objective** over a real space: the
//! search space of `examples/tiny_lm.nas`, with its pipeline replaced, evaluated not by
//! training but by a closed-form function of the hyperparameters ([`synthetic_loss`]),
//! reported as `val_loss`. Nothing here trains; what is measured is how well each
//! strategy searches, at equal budgets, over many seeds.
//!
//! Also: every candidate any strategy proposes is a member of the space (its assignment
//! replays to the same architecture), the same seed gives the same run, and successive
//! halving trains each rung for the steps it should and passes on only its last rung.

use std::collections::BTreeMap;
use std::path::PathBuf;

use nasc::interp::Arch;
use nasc::search::harness;
use nasc::search::run::{Evaluation, Evaluator, Outcome};
use nasc::store::Store;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `examples/tiny_lm.nas` with `pipeline` in place of its own, and `val_loss` (which
/// the synthetic evaluator reports) as its only objective.
fn tiny_lm(pipeline: &str) -> String {
    tiny_lm_with("objective { minimize val_loss }", pipeline)
}

/// `examples/tiny_lm.nas` with `objective` and `pipeline` in place of its own.
fn tiny_lm_with(objective: &str, pipeline: &str) -> String {
    let text = std::fs::read_to_string(root().join("examples/tiny_lm.nas")).expect("example");
    let start = text.find("    objective {").expect("an objective block");
    let end = start + text[start..].find("\n    }\n").expect("its end") + "\n    }\n".len();
    let text = format!("{}    {objective}\n{}", &text[..start], &text[end..]);
    let start = text.find("    pipeline {").expect("a pipeline block");
    let end = start + text[start..].find("\n    }\n").expect("its end") + "\n    }\n".len();
    format!(
        "{}    pipeline {{\n        {pipeline}\n    }}\n{}",
        &text[..start],
        &text[end..]
    )
}

/// A closed-form stand-in for a validation loss, smallest (0.0) at `lr = 1e-3`,
/// `d_model = 128`, four layers, `swiglu`, dropout 0.1, rotary positions and softmax
/// attention in every layer. `steps` lowers it like more training would.
fn synthetic_loss(arch: &Arch, steps: usize) -> f64 {
    let values: BTreeMap<String, serde_json::Value> = arch
        .values
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_json()))
        .collect();
    let num = |k: &str| values.get(k).and_then(|v| v.as_f64());
    // `dropout` is inactive when no layer's optional dropout is on: no dropout at all.
    let num = |k: &str| {
        num(k).unwrap_or_else(|| {
            if k == "dropout" {
                0.0
            } else {
                panic!("no `{k}` in {values:?}")
            }
        })
    };
    let assignment = nasc::interp::assignment_json(&arch.assignment);
    let picks = assignment.as_object().expect("an object");
    let mut loss = (num("lr").log10() + 3.0).powi(2)
        + ((num("d_model") - 128.0) / 128.0).powi(2)
        + 0.1 * (num("layers") - 4.0).abs()
        + 0.3 * f64::from(u8::from(values["act"] != "swiglu"))
        + 2.0 * (num("dropout") - 0.1).powi(2);
    let kinds: Vec<&serde_json::Value> = picks
        .iter()
        .filter(|(k, _)| k.ends_with("attention.kind"))
        .map(|(_, v)| v)
        .collect();
    let not_softmax = kinds.iter().filter(|v| **v != "softmax").count();
    loss += 0.3 * not_softmax as f64 / kinds.len().max(1) as f64;
    let rotary = picks
        .iter()
        .any(|(k, v)| k.ends_with("positions.kind") && v == "rotary");
    loss += 0.2 * f64::from(u8::from(!rotary));
    loss + 1.0 / steps as f64
}

/// A closed-form stand-in for a latency: the model's depth times its width, in units of
/// four layers of 128. It pulls against [`synthetic_loss`], whose optimum has exactly
/// that size.
fn synthetic_latency(arch: &Arch) -> f64 {
    let num = |k: &str| {
        arch.values
            .iter()
            .find(|(name, _)| *name == k)
            .and_then(|(_, v)| v.to_json().as_f64())
            .unwrap_or_else(|| panic!("no `{k}`"))
    };
    num("layers") * num("d_model") / 512.0
}

/// Evaluates by [`synthetic_loss`] and [`synthetic_latency`]; counts its calls.
struct Synthetic {
    calls: usize,
}

impl Evaluator for Synthetic {
    fn seed(&self, _arch: &Arch) -> u64 {
        0
    }

    fn evaluate(
        &mut self,
        arch: &Arch,
        steps: usize,
        _progress: &mut dyn FnMut(usize, f64),
    ) -> Evaluation {
        self.calls += 1;
        let mut metrics = BTreeMap::new();
        metrics.insert("val_loss".to_string(), synthetic_loss(arch, steps));
        metrics.insert("latency_ms".to_string(), synthetic_latency(arch));
        Evaluation {
            metrics,
            ..Evaluation::default()
        }
    }
}

fn temp_store(tag: &str) -> (PathBuf, Store) {
    let dir = std::env::temp_dir().join(format!("nasc-strategies-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let store = Store::open(&dir.join("store.db")).expect("store");
    (dir, store)
}

fn search(pipeline: &str, seed: u64, store: &Store) -> (Outcome, usize) {
    let mut ev = Synthetic { calls: 0 };
    let out = harness::run_text(&tiny_lm(pipeline), Some(root()), &mut ev, seed, store)
        .unwrap_or_else(|e| panic!("`{pipeline}` runs: {e}"));
    (out, ev.calls)
}

/// The best synthetic loss a run found (among all its trials).
fn best(o: &Outcome) -> f64 {
    o.trials
        .iter()
        .filter_map(|t| t.metrics.get("val_loss").copied())
        .fold(f64::INFINITY, f64::min)
}

const SEEDS: u64 = 16;

/// The mean over [`SEEDS`] seeds of the best loss found by `pipeline`, which must ask
/// for `budget` trials.
fn mean_best(pipeline: &str, budget: usize, tag: &str) -> f64 {
    let (dir, store) = temp_store(tag);
    let mut total = 0.0;
    for seed in 0..SEEDS {
        let (o, _) = search(pipeline, seed, &store);
        assert_eq!(o.trials.len(), budget, "`{pipeline}` asks for its budget");
        total += best(&o);
    }
    let _ = std::fs::remove_dir_all(dir);
    total / SEEDS as f64
}

/// `strategy` (a pipeline stage of `budget` trials) must close at least a sixth of random
/// search's distance to the optimum at the same budget, on average over the seeds. The
/// loss's floor is 1.0 at one step of "training".
fn beats_random(strategy: &str, budget: usize, tag: &str) {
    let random = mean_best(
        &format!("random(samples = {budget}, steps = 1) |> keep best"),
        budget,
        &format!("{tag}-random"),
    );
    let found = mean_best(&format!("{strategy} |> keep best"), budget, tag);
    eprintln!(
        "mean best synthetic loss over {SEEDS} seeds at {budget} trials: random {random:.4}, `{strategy}` {found:.4} (closes {:.0}% of random's gap to the optimum)",
        100.0 * (1.0 - (found - 1.0) / (random - 1.0))
    );
    assert!(
        found - 1.0 < (5.0 / 6.0) * (random - 1.0),
        "`{strategy}` found {found:.4} on average, random search {random:.4}"
    );
}

#[test]
fn tpe_beats_random_search() {
    beats_random("tpe(trials = 40, steps = 1)", 40, "tpe");
}

#[test]
fn bo_beats_random_search() {
    beats_random("bo(trials = 40, steps = 1)", 40, "bo");
}

#[test]
fn evolution_beats_random_search() {
    beats_random(
        "evolution(population = 10, generations = 10, steps = 1)",
        100,
        "evolution",
    );
}

#[test]
fn every_proposal_is_a_member_of_the_space_and_seeds_reproduce() {
    let (dir, store) = temp_store("members");
    let src = tiny_lm("random(samples = 1)");
    for pipeline in [
        "tpe(trials = 15, steps = 1, startup = 5)",
        "evolution(population = 5, generations = 3, steps = 1, mutation = 0.3)",
        "bo(trials = 10, steps = 1)",
        "successive_halving(min_steps = 1, max_steps = 9)",
        "hyperband(min_steps = 1, max_steps = 9)",
    ] {
        let (a, _) = search(pipeline, 7, &store);
        let (b, _) = search(pipeline, 7, &store);
        let hashes = |o: &Outcome| o.trials.iter().map(|t| t.arch.hash).collect::<Vec<_>>();
        assert_eq!(
            hashes(&a),
            hashes(&b),
            "`{pipeline}`: the same seed, another run"
        );
        for t in &a.trials {
            let json = t.arch.to_json();
            let out = nasc::cli::sample::run_source(
                "test.nas",
                src.clone(),
                Some(root()),
                None,
                &nasc::cli::sample::Request::Describe {
                    file: "arch.json".into(),
                    json: json.to_string(),
                    partial: false,
                },
                true,
                None,
            );
            let codes: Vec<String> = out.diagnostics.iter().map(|d| d.code.to_string()).collect();
            assert!(
                codes.is_empty() && out.failure.is_none(),
                "`{pipeline}` proposed a non-member: {codes:?} {:?}",
                out.failure
            );
            let described: serde_json::Value =
                serde_json::from_str(out.stdout.lines().next().expect("one line")).expect("JSON");
            assert_eq!(
                described["hash"].as_str(),
                Some(t.arch.hash_hex().as_str()),
                "`{pipeline}`: the assignment replays to the same architecture"
            );
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn successive_halving_trains_rungs_and_passes_on_its_last() {
    let (dir, store) = temp_store("halving");
    let (o, calls) = search(
        "random(samples = 20, steps = 1) |> keep top 9 by val_loss
        successive_halving(min_steps = 10, max_steps = 90, eta = 3) |> keep top 2 by val_loss",
        3,
        &store,
    );
    let steps: Vec<usize> = o
        .trials
        .iter()
        .filter(|t| t.layer == 1)
        .map(|t| t.steps)
        .collect();
    assert_eq!(
        steps,
        [vec![10; 9], vec![30; 3], vec![90]].concat(),
        "9 at 10 steps, the best 3 at 30, the best at 90"
    );
    // The 3 at 30 steps were the best 3 at 10.
    let at = |s: usize| -> Vec<(u128, f64)> {
        o.trials
            .iter()
            .filter(|t| t.layer == 1 && t.steps == s)
            .map(|t| (t.arch.hash, t.metrics["val_loss"]))
            .collect()
    };
    let mut first = at(10);
    first.sort_by(|a, b| a.1.total_cmp(&b.1));
    let mut promoted: Vec<u128> = at(30).iter().map(|x| x.0).collect();
    let mut best3: Vec<u128> = first.iter().take(3).map(|x| x.0).collect();
    promoted.sort_unstable();
    best3.sort_unstable();
    assert_eq!(promoted, best3);
    // Only the last rung reaches the filter: one candidate, though `top 2` allows two.
    assert_eq!(o.best.len(), 1);
    assert_eq!(o.best[0].steps, 90);
    assert!(calls <= o.trials.len());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn hyperband_ends_every_bracket_at_max_steps() {
    let (dir, store) = temp_store("hyperband");
    let (o, _) = search(
        "hyperband(min_steps = 10, max_steps = 90, eta = 3) |> keep top 3 by val_loss",
        1,
        &store,
    );
    // s_max = 2: brackets of 9 (10, 30, 90 steps), 5 (30, 90) and 3 (90).
    let count = |s: usize| o.trials.iter().filter(|t| t.steps == s).count();
    assert_eq!((count(10), count(30), count(90)), (9, 3 + 5, 1 + 1 + 3));
    assert!(o.best.iter().all(|b| b.steps == 90));
    assert!(!o.best.is_empty() && o.best.len() <= 3);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_later_layer_re_evaluates_its_input_and_warm_starts_from_it() {
    let (dir, store) = temp_store("warm");
    let (o, _) = search(
        "random(samples = 12, steps = 1) |> keep top 4 by val_loss
        tpe(trials = 6, steps = 2, startup = 3) |> keep best",
        5,
        &store,
    );
    let layer2: Vec<_> = o.trials.iter().filter(|t| t.layer == 1).collect();
    assert_eq!(layer2.len(), 4 + 6);
    assert!(layer2.iter().all(|t| t.steps == 2));
    let _ = std::fs::remove_dir_all(dir);
}

/// With weighted objectives every trial records `score`, the weighted sum, and the
/// strategies minimise it: evolution guided by the score finds a lower score than the
/// same evolution guided by the validation loss alone (the first objective, when nothing
/// is weighted), on average over the seeds.
#[test]
fn weighted_objectives_are_scored_and_minimised() {
    let weighted = "objective {\n        minimize val_loss weight 1\n        minimize latency_ms weight 2\n    }";
    let unweighted = "objective {\n        minimize val_loss\n        minimize latency_ms\n    }";
    let pipeline = "evolution(population = 10, generations = 6, steps = 1) |> keep best";
    let (dir, store) = temp_store("weighted");
    let score =
        |t: &nasc::search::layer::Evaluated| t.metrics["val_loss"] + 2.0 * t.metrics["latency_ms"];
    let mut mean = [0.0; 2];
    for seed in 0..SEEDS {
        for (i, objective) in [weighted, unweighted].into_iter().enumerate() {
            let mut ev = Synthetic { calls: 0 };
            let out = harness::run_text(
                &tiny_lm_with(objective, pipeline),
                Some(root()),
                &mut ev,
                seed,
                &store,
            )
            .unwrap_or_else(|e| panic!("the weighted run runs: {e}"));
            for t in &out.trials {
                match (i, t.metrics.get("score")) {
                    (0, Some(s)) => assert!(
                        (s - score(t)).abs() < 1e-12,
                        "trial #{} scored {s}, not {}",
                        t.seq,
                        score(t)
                    ),
                    (0, None) => panic!("trial #{} has no score: {:?}", t.seq, t.metrics),
                    (_, s) => assert!(s.is_none(), "an unweighted objective records no score"),
                }
            }
            mean[i] += out.trials.iter().map(score).fold(f64::INFINITY, f64::min) / SEEDS as f64;
            if i == 0 {
                let best = &out.best[0];
                assert_eq!(out.ranked_by.name, "score", "the table ranks by the score");
                assert!(
                    out.trials.iter().all(|t| score(best) <= score(t)),
                    "`keep best` keeps the lowest score"
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(dir);
    eprintln!(
        "mean best score over {SEEDS} seeds: guided by the score {:.4}, by val_loss {:.4}",
        mean[0], mean[1]
    );
    assert!(
        mean[0] < mean[1],
        "guided by the score {:.4}, by val_loss {:.4}",
        mean[0],
        mean[1]
    );
}

/// A space of 20 architectures, searched by a model-based strategy with a budget of 20
/// trials: once the model has converged it keeps proposing what it has already seen, and
/// the layer puts a new architecture in the place of each repeat, so the 20 trials are
/// the 20 architectures of the space, each once.
#[test]
fn a_model_that_keeps_repeating_itself_spends_no_trial_on_a_repeat() {
    const SMALL: &str = r#"import std.transformer.{ ffn, pre_norm }
space small {
    param width  : int = choice(16, 24, 32, 48, 64)
    param layers : int = range(1, 4)
    graph {
        embedding(vocab = data.vocab, dim = width)
        repeat layers { pre_norm(ffn(hidden = 2 * width, activation = gelu)) }
        lm_head(vocab = data.vocab)
    }
    data = text_corpus("tiny_shakespeare", context = 16)
    train { batch = 4 }
    objective { minimize val_loss }
    pipeline { STAGE |> keep best }
}
"#;
    /// Smallest at width 32 with two layers.
    struct Bowl;
    impl Evaluator for Bowl {
        fn seed(&self, _arch: &Arch) -> u64 {
            0
        }
        fn evaluate(
            &mut self,
            arch: &Arch,
            _steps: usize,
            _progress: &mut dyn FnMut(usize, f64),
        ) -> Evaluation {
            let num = |k: &str| {
                arch.values
                    .iter()
                    .find(|(name, _)| *name == k)
                    .and_then(|(_, v)| v.to_json().as_f64())
                    .unwrap_or_else(|| panic!("no `{k}`"))
            };
            let loss = (num("width") - 32.0).abs() / 32.0 + 0.1 * (num("layers") - 2.0).abs();
            Evaluation {
                metrics: BTreeMap::from([("val_loss".to_string(), loss)]),
                ..Evaluation::default()
            }
        }
    }
    for stage in ["tpe(trials = 20, steps = 1)", "bo(trials = 20, steps = 1)"] {
        let (dir, store) = temp_store("repeats");
        for seed in 0..3 {
            let text = SMALL.replace("STAGE", stage);
            let out = harness::run_text(&text, Some(root()), &mut Bowl, seed, &store)
                .unwrap_or_else(|e| panic!("`{stage}` runs: {e}"));
            assert_eq!(out.trials.len(), 20, "`{stage}` asks for its budget");
            let distinct: std::collections::HashSet<u128> =
                out.trials.iter().map(|t| t.arch.hash).collect();
            assert_eq!(
                distinct.len(),
                20,
                "`{stage}`, seed {seed}: every trial a new architecture"
            );
            assert_eq!(
                best(&out),
                0.0,
                "`{stage}` finds the optimum of a space it evaluates whole"
            );
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
