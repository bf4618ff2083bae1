//! The interpreter end to end: enumeration agrees with `check`'s count, hashes agree with
//! graphs, samples satisfy their space, seeds reproduce, uniform sampling is uniform.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use common::Request;
use proptest::prelude::*;

fn example(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(name),
    )
    .expect("example exists")
}

/// Every architecture of the only (or first) space, as JSON.
fn enumerate_json(src: &str) -> Vec<serde_json::Value> {
    let (out, codes) = common::run(
        src,
        &Request::Enumerate {
            limit: 1_000_000,
            count_only: false,
        },
        true,
    );
    assert!(codes.is_empty(), "enumerate reports {codes:?}");
    out.lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

/// The graph of an architecture without the paths (which may differ for equal networks).
fn graph_key(a: &serde_json::Value) -> String {
    let mut g = a["graph"].clone();
    for n in g.as_array_mut().expect("graph is a list") {
        n.as_object_mut().expect("node").remove("path");
    }
    format!("{g}{}{}", a["data"], a["train"])
}

/// Hash equal exactly when the network (graph, data, training) is equal.
fn assert_hashes_match_graphs(archs: &[serde_json::Value]) {
    let mut by_hash: HashMap<String, String> = HashMap::new();
    let mut by_graph: HashMap<String, String> = HashMap::new();
    for a in archs {
        let h = a["hash"].as_str().expect("hash").to_string();
        let g = graph_key(a);
        assert_eq!(
            by_hash.entry(h.clone()).or_insert_with(|| g.clone()),
            &g,
            "one hash, two graphs"
        );
        assert_eq!(
            by_graph.entry(g).or_insert_with(|| h.clone()),
            &h,
            "one graph, two hashes"
        );
    }
}

#[test]
fn enumeration_yields_exactly_the_checked_count() {
    for (file, expected) in [
        ("deep_architect_poster.nas", 25_008),
        ("conditional.nas", 4_752),
        ("attention_search.nas", 30),
    ] {
        let src = example(file);
        assert_eq!(
            common::count(&src).as_deref(),
            Some(expected.to_string().as_str())
        );
        let archs = enumerate_json(&src);
        assert_eq!(archs.len(), expected, "{file}");
        // Distinct assignments, and here distinct networks: no two share a hash.
        let hashes: HashSet<&str> = archs.iter().map(|a| a["hash"].as_str().unwrap()).collect();
        assert_eq!(hashes.len(), expected, "{file}: duplicate hashes");
        assert_hashes_match_graphs(&archs);
    }
}

#[test]
fn enumeration_matches_counts_of_conditional_and_constrained_spaces() {
    let cases = [
        // A named param used only under an optional counts once when it is off.
        r#"space s {
            param r = choice(0.1, 0.2, 0.3)
            graph { embedding(vocab = 10, dim = 8) ; optional dropout(rate = r) ; lm_head(vocab = 10) }
        }"#,
        // Constraints on hyperparameters, a choice of sub-graphs, nested inline choices.
        r#"import std.transformer.{ attention }
        space s {
            param w = choice(32, 48, 64)
            param h = choice(2, 3, 4)
            param n = range(1, 3)
            require w % h == 0
            graph {
                embedding(vocab = 10, dim = w)
                repeat n { choice(attention(heads = h, kind = choice(softmax, local(window = choice(4, 8)))), linear(out = w)) }
                lm_head(vocab = 10)
            }
        }"#,
        // A function whose value argument is chosen once per call.
        r#"fn pair(k: int) -> module { linear(out = k) >> linear(out = k) }
        space s {
            graph { embedding(vocab = 10, dim = 8) ; pair(k = choice(4, 8, 16)) ; pair(k = choice(4, 8)) ; lm_head(vocab = 10) }
        }"#,
    ];
    for src in cases {
        let expected: usize = common::count(src).expect("counts").parse().unwrap();
        let archs = enumerate_json(src);
        assert_eq!(archs.len(), expected, "{src}");
        assert_hashes_match_graphs(&archs);
    }
}

#[test]
fn a_quantised_domain_is_one_grid_for_check_enumerate_sample_and_describe() {
    // (domain, its values): the multiples of `q` inside the bounds, a bound that is one
    // up to rounding included, each written as the decimal it stands for.
    let cases: [(&str, &[f64]); 6] = [
        ("uniform(0.0, 0.3, q = 0.1)", &[0.0, 0.1, 0.2, 0.3]),
        ("uniform(0.0, 0.6, q = 0.2)", &[0.0, 0.2, 0.4, 0.6]),
        ("uniform(0.05, 0.3, q = 0.1)", &[0.1, 0.2, 0.3]),
        ("uniform(0.0, 0.25, q = 0.1)", &[0.0, 0.1, 0.2]),
        ("log_uniform(0.1, 0.3, q = 0.1)", &[0.1, 0.2, 0.3]),
        (
            "uniform(0.0, 0.9, q = 0.15)",
            &[0.0, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9],
        ),
    ];
    for (domain, values) in cases {
        let src = format!(
            "space s {{\n param r: float = {domain}\n graph {{ embedding(vocab = 10, dim = 8) ; dropout(rate = r) ; lm_head(vocab = 10) }}\n}}"
        );
        assert_eq!(
            common::count(&src),
            Some(values.len().to_string()),
            "{domain}"
        );
        let listed: Vec<f64> = enumerate_json(&src)
            .iter()
            .map(|a| a["assignment"]["r"].as_f64().unwrap())
            .collect();
        assert_eq!(listed, values, "{domain}");
        // Sampling reaches every point of the grid, the top one too, and nothing else.
        let drawn: HashSet<u64> = sample_json(&src, 400, 3)
            .iter()
            .map(|a| a["assignment"]["r"].as_f64().unwrap().to_bits())
            .collect();
        let grid: HashSet<u64> = values.iter().map(|v| v.to_bits()).collect();
        assert_eq!(drawn, grid, "{domain}");
    }
    // A point written with a rounding error is the same point, with the same hash.
    let src = "space s {\n param r: float = uniform(0.0, 0.3, q = 0.05)\n graph { embedding(vocab = 10, dim = 8) ; dropout(rate = r) ; lm_head(vocab = 10) }\n}";
    let hash_of = |r: serde_json::Value| {
        let (out, codes) = describe(src, &serde_json::json!({ "r": r }));
        assert!(codes.is_empty(), "{r}: {codes:?}");
        let a: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(a["assignment"]["r"], 0.15);
        a["hash"].clone()
    };
    assert_eq!(
        hash_of(serde_json::json!(0.15)),
        hash_of(serde_json::json!(0.15000000000000002))
    );
    let (_, codes) = describe(src, &serde_json::json!({ "r": 0.17 }));
    assert_eq!(codes, ["E031"], "between two points of the grid");
}

#[test]
fn a_quantised_log_scale_favours_its_small_values() {
    let src = "space s {\n param r: float = log_uniform(0.0001, 0.003, q = 0.0001)\n graph { embedding(vocab = 10, dim = 8) ; dropout(rate = r) ; lm_head(vocab = 10) }\n}";
    let draws = sample_json(src, 4000, 9);
    let smallest = draws
        .iter()
        .filter(|a| a["assignment"]["r"].as_f64() == Some(0.0001))
        .count() as f64
        / draws.len() as f64;
    // Nearest to 0.0001: draws below 0.00015, ln(1.5) / ln(30) = 11.9% of a log scale
    // (one value in 30, 3.3%, if the grid were drawn from uniformly).
    assert!((0.09..0.15).contains(&smallest), "{smallest}");
}

/// 20 architectures: with `n = 1` 4 of them, with `n = 2` 16.
const TWO_DEPTHS: &str = r#"space s {
    param n = range(1, 2)
    graph { embedding(vocab = 10, dim = 8) ; repeat n { linear(out = choice(4, 8, 12, 16)) } ; lm_head(vocab = 10) }
}"#;

#[test]
fn uniform_sampling_draws_in_a_random_order_and_says_when_the_space_is_smaller() {
    let src = TWO_DEPTHS;
    let uniform = |n: usize, seed: u64, json: bool| {
        let req = Request::Sample {
            n,
            seed,
            uniform: true,
            limit: 1000,
            max_attempts: 10,
        };
        common::run(src, &req, json)
    };
    // All 20 of the 20, but not in the enumeration's order: the first printed differs
    // from seed to seed (the reservoir alone kept it first every time).
    let firsts: HashSet<String> = (0..40)
        .map(|seed| {
            let (out, codes) = uniform(20, seed, true);
            assert!(codes.is_empty(), "{codes:?}");
            let archs: Vec<serde_json::Value> = out
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            assert_eq!(archs.len(), 20);
            archs[0]["hash"].as_str().unwrap().to_string()
        })
        .collect();
    assert!(firsts.len() >= 10, "{} distinct firsts", firsts.len());
    let (out, codes) = uniform(25, 1, false);
    assert!(codes.is_empty(), "{codes:?}");
    assert!(
        out.contains("drew 20 of the 20 architectures") && out.contains("fewer than the 25"),
        "{out}"
    );
}

#[test]
fn uniform_sampling_and_enumeration_refuse_what_the_constraints_reject() {
    let uniform = Request::Sample {
        n: 1,
        seed: 0,
        uniform: true,
        limit: 1000,
        max_attempts: 10,
    };
    let nothing = r#"space s {
        param w = choice(8, 16)
        require params() < 10
        graph { embedding(vocab = 16, dim = 8) ; linear(out = w) ; lm_head(vocab = 16) }
    }"#;
    assert_eq!(common::run(nothing, &uniform, false).1, ["E030"]);
    // A million by a million assignments, five of them accepted: the walk gives up after
    // a bounded number of visits instead of running for days.
    let nearly = r#"space s {
        param a = range(1, 1000000)
        param b = range(1, 1000000)
        require a + b > 2 * 1000000 - 5
        graph { embedding(vocab = 16, dim = 8) ; linear(out = 8) ; lm_head(vocab = 16) }
        train { steps = 10, batch = 4, optimizer = adam(lr = 0.001), warmup = a % 2 + b % 2 }
    }"#;
    let enumerate = Request::Enumerate {
        limit: 1000,
        count_only: true,
    };
    for req in [&uniform, &enumerate] {
        let (_, codes) = common::run(nearly, req, false);
        assert!(codes.contains(&"E032".to_string()), "{req:?}: {codes:?}");
    }
}

#[test]
fn equal_networks_share_a_hash() {
    // Both alternatives are the same module; the rate of a dropout that is off is inactive.
    let src = r#"space s {
        param r = choice(0.1, 0.2)
        graph {
            embedding(vocab = 10, dim = 8)
            choice(linear(out = 8), linear(out = 8))
            optional dropout(rate = r)
            lm_head(vocab = 10)
        }
    }"#;
    let archs = enumerate_json(src);
    assert_eq!(archs.len(), 2 * 3);
    let hashes: HashSet<&str> = archs.iter().map(|a| a["hash"].as_str().unwrap()).collect();
    // Off, on with 0.1, on with 0.2.
    assert_eq!(hashes.len(), 3);
    assert_hashes_match_graphs(&archs);
}

fn sample_json(src: &str, n: usize, seed: u64) -> Vec<serde_json::Value> {
    let (out, codes) = common::run(src, &common::sample_request(n, seed), true);
    assert!(codes.is_empty(), "sample reports {codes:?}");
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn the_same_seed_gives_the_same_architectures() {
    let src = example("tiny_lm.nas");
    let a = sample_json(&src, 5, 7);
    let b = sample_json(&src, 5, 7);
    assert_eq!(a, b);
    let c = sample_json(&src, 5, 8);
    assert_ne!(a, c);
}

/// A writer whose bytes the test can read after the command has taken it.
#[derive(Clone, Default)]
struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Drawn live (as `nasc sample` prints), the architectures are the same bytes as drawn
/// into the output at the end, for both formats, uniform sampling and enumeration too;
/// none is kept.
#[test]
fn sampling_live_prints_what_sampling_at_once_does() {
    let src = example("deep_architect_poster.nas");
    let uniform = Request::Sample {
        n: 4,
        seed: 3,
        uniform: true,
        limit: 100_000,
        max_attempts: 10_000,
    };
    let enumerate = Request::Enumerate {
        limit: 100_000,
        count_only: false,
    };
    for request in [common::sample_request(6, 9), uniform, enumerate] {
        for json in [false, true] {
            let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
            let at_once = nasc::cli::sample::run_source(
                "test.nas",
                src.clone(),
                Some(dir.clone()),
                None,
                &request,
                json,
                None,
            );
            let live = Shared::default();
            let out = nasc::cli::sample::run_source(
                "test.nas",
                src.clone(),
                Some(dir),
                None,
                &request,
                json,
                Some(Box::new(live.clone())),
            );
            assert!(out.diagnostics.is_empty() && out.stdout.is_empty());
            let printed = String::from_utf8(live.0.borrow().clone()).unwrap();
            assert!(printed.lines().count() >= 4, "{printed}");
            assert_eq!(printed, at_once.stdout, "{request:?}");
        }
    }
}

/// Describes `arch` (sample JSON) against `src`: its stdout and codes.
fn describe(src: &str, arch: &serde_json::Value) -> (String, Vec<String>) {
    common::run(
        src,
        &Request::Describe {
            file: "arch.json".into(),
            json: arch.to_string(),
            partial: false,
        },
        true,
    )
}

#[test]
fn describe_reproduces_a_sampled_architecture() {
    let src = example("tiny_lm.nas");
    for a in sample_json(&src, 4, 11) {
        let (out, codes) = describe(&src, &a);
        assert!(codes.is_empty(), "{codes:?}");
        let back: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(back, a);
    }
}

#[test]
fn describe_refuses_an_architecture_whose_hash_its_values_do_not_build() {
    let src = example("tiny_lm.nas");
    let mut a = sample_json(&src, 1, 5).remove(0);
    a["hash"] = serde_json::json!("deadbeef");
    let (out, codes) = describe(&src, &a);
    assert_eq!(codes, ["E031"], "{out}");
    assert!(out.is_empty());
}

#[test]
fn describe_takes_a_value_only_in_its_own_type() {
    let src = r#"space s {
        param w = choice(32, 64)
        param r = choice(0.0, 0.5)
        param act = choice(relu, gelu)
        graph { embedding(vocab = 10, dim = w) ; dropout(rate = r) ; act(kind = act) ; lm_head(vocab = 10) }
    }"#;
    let given = |w: serde_json::Value, r: serde_json::Value| {
        describe(src, &serde_json::json!({ "w": w, "r": r, "act": "gelu" }))
    };
    // An integer alternative: the integer only, not its text nor a float of it.
    let (_, codes) = given(serde_json::json!(64), serde_json::json!(0.5));
    assert!(codes.is_empty(), "{codes:?}");
    for wrong in [serde_json::json!("64"), serde_json::json!(64.0)] {
        let (_, codes) = given(wrong.clone(), serde_json::json!(0.5));
        assert_eq!(codes, ["E031"], "w = {wrong}");
    }
    // A float alternative may be written as an integer; an enum by its name.
    let (out, codes) = given(serde_json::json!(32), serde_json::json!(0));
    assert!(codes.is_empty(), "{codes:?}");
    let a: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(a["assignment"]["r"], 0.0);
    assert_eq!(a["assignment"]["act"], "gelu");
}

#[test]
fn a_param_named_assignment_is_read_as_a_value() {
    let src = r#"space s {
        param assignment = choice(8, 16)
        graph { embedding(vocab = 10, dim = assignment) ; lm_head(vocab = 10) }
    }"#;
    // A plain object of values, and the whole architecture `sample` writes.
    let (out, codes) = describe(src, &serde_json::json!({ "assignment": 16 }));
    assert!(codes.is_empty(), "{codes:?}");
    let whole: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(whole["assignment"]["assignment"], 16);
    let (again, codes) = describe(src, &whole);
    assert!(codes.is_empty(), "{codes:?}");
    assert_eq!(again, out);
    // In a space without such a param, an `assignment` that is no object is refused as
    // that, not read as an object of values that lacks every value.
    let out = nasc::cli::sample::run_source(
        "test.nas",
        example("tiny_lm.nas"),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")),
        None,
        &Request::Describe {
            file: "arch.json".into(),
            json: r#"{"assignment": 5}"#.into(),
            partial: false,
        },
        true,
        None,
    );
    let failure = out.failure.expect("refused");
    assert!(
        failure.message.contains("not an object"),
        "{}",
        failure.message
    );
}

#[test]
fn static_parameter_count_matches_the_formulas() {
    let src = example("tiny_lm.nas");
    let arch = serde_json::json!({
        "lr": 0.001, "d_model": 64, "positions.kind": "learned", "layers": 2, "heads": 2,
        "layers[0].pre_norm.attention.kind": "softmax", "act": "gelu", "layers[0].optional": false,
        "layers[1].pre_norm.attention.kind": "softmax", "layers[1].optional": false,
    });
    let (out, codes) = describe(&src, &arch);
    assert!(codes.is_empty(), "{codes:?}");
    let a: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let (d, v, t, ff) = (64, 256, 128, 256);
    let layer = 2 * d + 4 * (d * d + d) + 2 * d + (d * ff + ff + ff * d + d);
    let expected = v * d + t * d + 2 * layer + 2 * d + (d * v + v);
    assert_eq!(a["metrics"]["params"], expected);
    assert_eq!(a["values"]["head_dim"], 32);
    // `dropout` is inactive: both optionals are off.
    assert!(a["values"].get("dropout").is_none());
}

#[test]
fn uniform_sampling_weighs_every_architecture_equally() {
    // n = 1: 4 architectures; n = 2: 16. Per decision, n = 1 half the time; per
    // architecture, a fifth of the time.
    let src = TWO_DEPTHS;
    let draws = 400;
    let mut ones_uniform = 0;
    let mut ones_decision = 0;
    for seed in 0..draws {
        let req = Request::Sample {
            n: 1,
            seed,
            uniform: true,
            limit: 1000,
            max_attempts: 10,
        };
        let (out, codes) = common::run(src, &req, true);
        assert!(codes.is_empty());
        let a: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        ones_uniform += usize::from(a["assignment"]["n"] == 1);
        let b = &sample_json(src, 1, seed)[0];
        ones_decision += usize::from(b["assignment"]["n"] == 1);
    }
    let fu = ones_uniform as f64 / draws as f64;
    let fd = ones_decision as f64 / draws as f64;
    assert!(
        (0.14..0.26).contains(&fu),
        "uniform over architectures: {fu}"
    );
    assert!((0.42..0.58).contains(&fd), "uniform per decision: {fd}");
}

#[test]
fn uniform_sampling_draws_distinct_architectures() {
    let src = example("deep_architect_poster.nas");
    let req = Request::Sample {
        n: 50,
        seed: 3,
        uniform: true,
        limit: 100_000,
        max_attempts: 10,
    };
    let (out, codes) = common::run(&src, &req, true);
    assert!(codes.is_empty());
    let hashes: HashSet<String> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["hash"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(hashes.len(), 50);
}

/// `Arch::write_json` (what `nasc sample --format json` prints) writes what `to_json`
/// gives, byte for byte, for architectures of every example and every architecture of the
/// poster space.
#[test]
fn architectures_are_written_as_their_json_values_are() {
    use nasc::interp::strategy::{self, RandomSearch};
    let mut compared = 0;
    for name in examples() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(&name);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut sink = nasc::diag::Sink::default();
        let dir = path.parent().map(Path::to_path_buf);
        let program = nasc::check::load(&name, text, dir, &mut sink);
        let checked = nasc::check::check(program, &mut sink);
        let Some(info) = checked.spaces.first() else {
            continue;
        };
        let Ok(interp) = nasc::interp::Interp::new(&checked, info) else {
            continue;
        };
        let mut same = |a: &nasc::interp::Arch| {
            let mut b = Vec::new();
            a.write_json(&mut b);
            assert_eq!(
                String::from_utf8(b).unwrap(),
                a.to_json().to_string(),
                "{name}"
            );
            compared += 1;
        };
        let mut rng = strategy::rng(21);
        if let Ok((archs, _)) = strategy::sample(&interp, &mut RandomSearch, &mut rng, 25, 10_000) {
            archs.iter().for_each(&mut same);
        }
        if name == "deep_architect_poster.nas" {
            strategy::enumerate(&interp, 100_000, |a| same(&a)).unwrap();
        }
    }
    assert!(compared > 25_008, "{compared} architectures compared");
}

fn examples() -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".nas"))
            .collect();
    v.sort();
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Every sample of every example replays through `describe`, which checks each value
    /// against its domain and every constraint, to the same architecture; and its static
    /// metrics satisfy the metric constraints it was sampled under.
    #[test]
    fn every_sample_satisfies_its_space(seed in 0u64..1_000_000, which in 0usize..7) {
        let names = examples();
        let src = example(&names[which % names.len()]);
        for a in sample_json(&src, 2, seed) {
            let (out, codes) = describe(&src, &a);
            prop_assert!(codes.is_empty(), "{codes:?} for {a}");
            let back: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
            prop_assert_eq!(&back["hash"], &a["hash"]);
            for d in a["assignment"].as_object().unwrap().values() {
                prop_assert!(!d.is_null());
            }
            if src.contains("params() <= 5M") {
                prop_assert!(a["metrics"]["params"].as_u64().unwrap() <= 5_000_000);
            }
        }
    }
}

/// A range as wide as `i64` allows once overflowed `hi - lo` when a value was drawn,
/// described or encoded; every command now handles it.
#[test]
fn the_widest_integer_range_samples_and_describes() {
    let src = "space s {\n    param a = range(-9223372036854775807, 9223372036854775807)\n    \
               graph {\n        embedding(vocab = 4, dim = 4)\n        linear(out = 1 + a * 0)\n    }\n}\n";
    let (out, codes) = common::run(src, &common::sample_request(3, 1), true);
    assert!(!codes.iter().any(|c| c.starts_with("nas::E")), "{codes:?}");
    assert_eq!(out.lines().count(), 3, "{out}");
    for json in [
        "{\"a\": 9223372036854775807}",
        "{\"a\": -9223372036854775807}",
    ] {
        let (out, codes) = common::run(
            src,
            &Request::Describe {
                file: "arch.json".into(),
                json: json.into(),
                partial: false,
            },
            false,
        );
        assert!(
            !codes.iter().any(|c| c.starts_with("nas::E")),
            "{codes:?}\n{out}"
        );
    }
}

#[test]
fn giving_up_counts_the_rejections_in_a_row_not_every_one() {
    let text = example("heads_layers.nas");
    let mut sink = nasc::diag::Sink::default();
    let program = nasc::check::load("heads_layers.nas", text, None, &mut sink);
    let checked = nasc::check::check(program, &mut sink);
    assert!(!sink.has_errors());
    let interp = nasc::interp::Interp::new(&checked, &checked.spaces[0]).unwrap();
    let mut rng = nasc::interp::strategy::rng(1);
    let mut accepted = 0;
    let result = nasc::interp::strategy::sample_each(
        &interp,
        &mut nasc::interp::strategy::RandomSearch,
        &mut rng,
        100,
        5,
        &mut |_| {
            accepted += 1;
            true
        },
    );
    let Err(nasc::interp::strategy::SampleError::AllRejected(row)) = result else {
        panic!("five rejections in a row come within 100 draws here");
    };
    assert!(accepted > 0, "some were accepted before the row");
    assert_eq!((row.attempts, row.rejected), (5, 5));
    let by: u64 = row.by_constraint.iter().map(|(_, n)| n).sum();
    assert_eq!(by, 5);
}

#[test]
fn every_decision_has_a_path_the_checker_lists() {
    // `describe --partial` tells a misspelt key from one not reached by these paths.
    for file in examples() {
        let src = example(&file);
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        let out = nasc::check_source(&file, src.clone(), Some(dir));
        let summary = &out.summaries[0];
        let listed: HashSet<&str> = summary
            .params
            .iter()
            .chain(&summary.inline)
            .map(|h| h.path.as_str())
            .collect();
        for a in sample_json(&src, 100, 4) {
            for key in a["assignment"].as_object().unwrap().keys() {
                let pattern = nasc::space::summary::path_pattern(key);
                assert!(listed.contains(pattern.as_str()), "{file}: {key}");
            }
        }
    }
}
