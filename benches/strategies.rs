//! Strategy overhead per trial: the time a pipeline layer spends proposing a candidate and
//! taking in its result (`ask` + `tell`), once 100, 1,000 and 10,000 finished trials
//! have been told, on the space of `examples/tiny_lm.nas`. Training is not part of it:
//! results come from a closed-form synthetic loss.
//!
//! Printed for TPE, regularised evolution (population 64) and BO, with, as the reference
//! measured in the same run, random search's cost per candidate (one interpreter build,
//! constraints checked, rejected candidates drawn again): the floor every strategy pays,
//! since every strategy builds its candidates through the interpreter.
//!
//! The aims at 1,000 finished trials: under 5 ms for TPE and evolution, under
//! 200 ms for the Gaussian process.
//!
//! Run with `cargo bench --bench strategies`.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use nasc::interp::strategy::{self, RandomSearch};
use nasc::interp::{Arch, Interp};
use nasc::search::layer::{self, Cx, Evaluated, Goal, Layer};
use nasc::search::plan;

/// Each measurement runs at least this long (and at least `MIN_ROUNDS` asks).
const WINDOW: Duration = Duration::from_secs(2);
const MIN_ROUNDS: usize = 3;
const SIZES: [usize; 3] = [100, 1_000, 10_000];

const PIPELINE: &str = "tpe(trials = 1000000000, steps = 1)
        evolution(population = 64, generations = 1000000000, steps = 1)
        bo(trials = 1000000000, steps = 1)";

/// A synthetic loss: smallest at `lr = 1e-3` and `d_model = 128`.
fn synthetic(arch: &Arch) -> f64 {
    let get = |name: &str| {
        arch.values
            .iter()
            .find(|(k, _)| &**k == name)
            .and_then(|(_, v)| v.as_f64())
            .unwrap_or(0.0)
    };
    (get("lr").log10() + 3.0).powi(2) + ((get("d_model") - 128.0) / 128.0).powi(2)
}

fn evaluated(seq: i64, arch: Rc<Arch>) -> Evaluated {
    let mut metrics = BTreeMap::new();
    metrics.insert("val_loss".to_string(), synthetic(&arch));
    Evaluated {
        seq,
        layer: 0,
        arch,
        steps: 1,
        failed: false,
        reason: None,
        metrics,
        reused_from: None,
        wall_s: 0.0,
    }
}

fn main() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tiny_lm.nas");
    let text = std::fs::read_to_string(&path).expect("example exists");
    let start = text.find("    pipeline {").expect("a pipeline");
    let end = start + text[start..].find("\n    }\n").expect("its end") + 7;
    let objective = text.find("    objective {").expect("objectives");
    let objective_end = objective + text[objective..].find("\n    }\n").expect("end") + 7;
    let text = format!(
        "{}    objective {{ minimize val_loss }}\n{}    pipeline {{\n        {PIPELINE}\n    }}\n{}",
        &text[..objective],
        &text[objective_end..start],
        &text[end..]
    );
    let mut sink = nasc::diag::Sink::default();
    let program = nasc::check::load(
        "tiny_lm.nas",
        text,
        path.parent().map(Into::into),
        &mut sink,
    );
    let checked = nasc::check::check(program, &mut sink);
    assert!(!sink.has_errors(), "the space checks clean");
    let space = &checked.spaces[0];
    let interp = Interp::new(&checked, space).expect("space builds");
    let plan = plan::plan(&checked, space, &mut sink).expect("the pipeline plans");

    // The finished trials strategies are told: random members of the space.
    let mut rng = strategy::rng(7);
    let (archs, _) = strategy::sample(
        &interp,
        &mut RandomSearch,
        &mut rng,
        *SIZES.last().unwrap(),
        100_000,
    )
    .expect("the space samples");
    let history: Vec<Evaluated> = archs
        .into_iter()
        .enumerate()
        .map(|(i, a)| evaluated(i as i64, Rc::new(a)))
        .collect();

    println!("strategy overhead per trial (ask + tell), examples/tiny_lm.nas, one thread\n");
    // Reference: random search, one candidate at a time.
    let t = Instant::now();
    let mut n = 0;
    while t.elapsed() < WINDOW {
        let _ = strategy::sample(&interp, &mut RandomSearch, &mut rng, 1, 100_000);
        n += 1;
    }
    let reference = t.elapsed().as_secs_f64() / n as f64;
    println!(
        "{:<12}{:>14}  (reference: one candidate built through the interpreter)",
        "random",
        format!("{:.3} ms", reference * 1e3)
    );
    println!(
        "\n{:<12}{:>14}{:>14}{:>14}   aim at 1,000",
        "strategy", "100 trials", "1,000", "10,000"
    );
    for (stage, aim_ms) in plan.stages.iter().zip([5.0, 5.0, 200.0]) {
        let mut cells = Vec::new();
        let mut at_1000 = 0.0;
        for &size in &SIZES {
            let per_trial = measure(&interp, &plan, stage, &history[..size]);
            if size == 1_000 {
                at_1000 = per_trial;
            }
            cells.push(format!("{:.3} ms", per_trial * 1e3));
        }
        println!(
            "{:<12}{:>14}{:>14}{:>14}   {:.0} ms: {} ({:.1}x the reference at 1,000)",
            stage.strategy,
            cells[0],
            cells[1],
            cells[2],
            aim_ms,
            if at_1000 * 1e3 < aim_ms {
                "met"
            } else {
                "NOT met"
            },
            at_1000 / reference
        );
    }
}

/// Seconds per trial of ask + tell for `stage`'s layer told `told` trials first.
fn measure(interp: &Interp, plan: &plan::Plan, stage: &plan::Stage, told: &[Evaluated]) -> f64 {
    let mut l = layer::layer(stage, Goal::of(stage, plan)).expect("the layer runs");
    let mut rng = nasc::search::run::layer_rng(1, 0);
    let mut seq = told.len() as i64;
    // A first round starts the layer; evolution's first generation is random, not bred,
    // and is not told, so that the told trials make its population.
    round(
        l.as_mut(),
        interp,
        &mut rng,
        told,
        &mut seq,
        stage.strategy != "evolution",
    );
    l.tell(told);
    let t = Instant::now();
    let (mut rounds, mut trials) = (0, 0);
    while rounds < MIN_ROUNDS || t.elapsed() < WINDOW {
        trials += round(l.as_mut(), interp, &mut rng, told, &mut seq, true);
        rounds += 1;
    }
    t.elapsed().as_secs_f64() / trials.max(1) as f64
}

/// One ask, its candidates scored by the synthetic loss, and (when `tell`) the tell;
/// the number of candidates.
fn round(
    l: &mut dyn Layer,
    interp: &Interp,
    rng: &mut nasc::interp::strategy::Rng64,
    told: &[Evaluated],
    seq: &mut i64,
    tell: bool,
) -> usize {
    let mut cx = Cx {
        interp,
        rng,
        input: &[],
        history: told,
    };
    let asked = l.ask(&mut cx).expect("asks");
    let n = asked.len();
    let results: Vec<Evaluated> = asked
        .into_iter()
        .map(|r| {
            *seq += 1;
            evaluated(*seq, r.arch)
        })
        .collect();
    if tell {
        l.tell(&results);
    }
    n
}
