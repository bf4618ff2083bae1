//! `nasc report` on the real binary. Runs are made with `harness::run_text` and a
//! **synthetic evaluator** (a closed-form function of the architecture's values, no
//! training), recorded in a temporary store; the report of each is then written by
//! `nasc report` and read back as text: it is self-contained, it plots one point per
//! finished trial, its Pareto front is exactly the non-dominated trials (computed here
//! independently), every hyperparameter path has a plot, text from the store is escaped,
//! and store failures are `E038`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::{nasc, temp_dir};
use nasc::interp::Arch;
use nasc::search::harness;
use nasc::search::run::{Evaluation, Evaluator};
use nasc::store::{Store, TrialRow, TrialStatus};

/// A space of small language models on the shipped corpus, with `objective` and
/// `pipeline` filled in: three widths, one to three layers each with its own activation
/// (so paths `layers[0].…`, `layers[1].…` repeat), and a learning rate over three decades.
fn space(objective: &str, pipeline: &str) -> String {
    format!(
        "import std.transformer.{{ attention, ffn, pre_norm }}
space report_demo {{
    param width = choice(8, 16, 32)
    param layers = range(1, 3)
    param lr : float = log_uniform(1e-4, 1e-1)
    graph {{
        embedding(vocab = data.vocab, dim = width)
        repeat layers {{
            pre_norm(attention(heads = 2, kind = softmax))
            pre_norm(ffn(hidden = 2 * width, activation = choice(gelu, swiglu)))
        }}
        layer_norm()
        lm_head(vocab = data.vocab, tied = true)
    }}
    data = text_corpus(\"tiny_shakespeare\", context = 16)
    train {{ batch = 4, optimizer = adamw(lr = lr) }}
    {objective}
    pipeline {{
        {pipeline}
    }}
}}"
    )
}

/// The failure reason of the synthetic evaluator: markup and quotes, to be escaped.
const REASON: &str = "diverged: loss <b>& \"nan\"";

/// Which trials the synthetic evaluator fails.
#[derive(Clone, Copy)]
enum Fail {
    /// None.
    Never,
    /// Those with a learning rate above 0.01.
    HighLr,
    /// Every one.
    Always,
}

/// Evaluates by a closed-form **synthetic** loss of the architecture's values (smallest at
/// `lr = 1e-3`, falling with width and layers, so that it trades off against size, and
/// with `steps` as training would); `params` is the architecture's static parameter
/// count. Nothing trains.
struct SyntheticEvaluator {
    fail: Fail,
}

impl Evaluator for SyntheticEvaluator {
    fn seed(&self, _arch: &Arch) -> u64 {
        0
    }

    fn evaluate(
        &mut self,
        arch: &Arch,
        steps: usize,
        _progress: &mut dyn FnMut(usize, f64),
    ) -> Evaluation {
        let values: BTreeMap<String, serde_json::Value> = arch
            .values
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_json()))
            .collect();
        let num = |k: &str| values.get(k).and_then(|v| v.as_f64()).expect("a number");
        let lr = num("lr");
        let failed = match self.fail {
            Fail::Never => false,
            Fail::HighLr => lr > 0.01,
            Fail::Always => true,
        };
        if failed {
            return Evaluation {
                failed: true,
                reason: Some(REASON.to_string()),
                ..Evaluation::default()
            };
        }
        let loss = (lr.log10() + 3.0).powi(2)
            + 8.0 / num("width")
            + 0.3 / num("layers")
            + 1.0 / steps as f64;
        let mut metrics = BTreeMap::new();
        metrics.insert("val_loss".to_string(), loss);
        metrics.insert("params".to_string(), arch.metrics.params as f64);
        Evaluation {
            metrics,
            ..Evaluation::default()
        }
    }
}

/// Records a run of `text` in a fresh store under `dir`; the store's path, and whether the
/// run reached its end.
fn record(dir: &Path, text: &str, fail: Fail) -> (PathBuf, bool) {
    let path = dir.join("store.db");
    let store = Store::open(&path).expect("store");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut ev = SyntheticEvaluator { fail };
    let done = harness::run_text(text, Some(root), &mut ev, 5, &store).is_ok();
    (path, done)
}

fn trials(store: &Path) -> Vec<TrialRow> {
    Store::open(store)
        .expect("store")
        .trials(1)
        .expect("trials")
}

/// `nasc report 1` of `store` into `dir/report.html`: its exit code, and the page.
fn report(store: &Path, dir: &Path) -> (i32, String) {
    let out = dir.join("report.html");
    let (code, stdout, stderr) = nasc(&[
        "report",
        "1",
        "--store",
        &store.display().to_string(),
        "-o",
        &out.display().to_string(),
        "--color",
        "never",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), out.display().to_string());
    let html = std::fs::read_to_string(&out).expect("the report was written");
    // `-o -` writes the same page to standard output, and no file named `-`.
    let (code_out, stdout, stderr) = nasc(&[
        "report",
        "1",
        "--store",
        &store.display().to_string(),
        "-o",
        "-",
    ]);
    assert_eq!(code_out, 0, "{stderr}");
    assert_eq!(stdout, html, "`-o -` prints the page itself");
    assert!(!Path::new(env!("CARGO_MANIFEST_DIR")).join("-").exists());
    (code, html)
}

/// The start tags that begin with `prefix` (`<circle class="pareto-pt`).
fn tags<'a>(html: &'a str, prefix: &str) -> Vec<&'a str> {
    html.match_indices(prefix)
        .map(|(i, _)| &html[i..i + html[i..].find('>').expect("a tag's end")])
        .collect()
}

/// The value of attribute `name` in a start tag.
fn attr<'a>(tag: &'a str, name: &str) -> &'a str {
    let key = format!(" {name}=\"");
    let start = tag.find(&key).expect("the attribute") + key.len();
    &tag[start..start + tag[start..].find('"').expect("its end")]
}

fn assert_self_contained(html: &str) {
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.trim_end().ends_with("</html>"));
    for banned in ["http://", "https://", "<script", "<link", "@import", "url("] {
        assert!(!html.contains(banned), "the report contains `{banned}`");
    }
}

/// The path of a plot of the hyperparameter at `path`: repetition indices become `[i]`.
fn merged(path: &str) -> String {
    let mut out = String::new();
    let mut digits = false;
    for c in path.chars() {
        if c.is_ascii_digit() && out.ends_with('[') {
            digits = true;
            out.push('i');
        } else if !(digits && c.is_ascii_digit()) {
            digits = false;
            out.push(c);
        }
    }
    out
}

#[test]
fn a_single_objective_run_has_every_trial_and_hyperparameter_plotted() {
    let dir = temp_dir("report-single");
    let text = space(
        "objective { minimize val_loss }",
        "random(samples = 12, steps = 1) |> keep top 3 by val_loss
        final(steps = 2)",
    );
    let (store, done) = record(&dir, &text, Fail::Never);
    assert!(done);
    let (_, html) = report(&store, &dir);
    assert_self_contained(&html);
    let rows = trials(&store);
    let finished = rows.iter().filter(|t| t.status == TrialStatus::Ok).count();
    assert_eq!(finished, 15, "12 samples and 3 finalists");
    // One point per finished trial in the metric plot, each trial once.
    let points = tags(&html, "<circle class=\"metric-pt");
    assert_eq!(points.len(), finished);
    let seqs: BTreeSet<&str> = points.iter().map(|p| attr(p, "data-seq")).collect();
    assert_eq!(seqs.len(), finished);
    assert!(html.contains("<polyline class=\"best-line\""));
    // The funnel: two layers, the first narrowing to three.
    assert_eq!(tags(&html, "<g class=\"funnel-row\"").len(), 2);
    assert!(html.contains("12 evaluated → 3 kept"), "{html}");
    // One objective: no front, and the page says why.
    assert!(tags(&html, "<circle class=\"pareto-pt").is_empty());
    assert!(html.contains("the plan has one objective"));
    // A plot for every hyperparameter path, repetitions merged.
    let mut paths = BTreeSet::new();
    for t in &rows {
        for k in t.assignment.as_object().expect("an assignment").keys() {
            paths.insert(merged(k));
        }
    }
    assert!(
        paths.contains("layers[i].pre_norm#2.ffn.activation"),
        "{paths:?}"
    );
    let figures: BTreeSet<&str> = tags(&html, "<figure class=\"hp\"")
        .into_iter()
        .map(|f| attr(f, "data-path"))
        .collect();
    assert_eq!(figures, paths.iter().map(String::as_str).collect());
    // The learning rate is on a log axis exactly when it spans more than a factor of 20.
    let lrs: Vec<f64> = rows
        .iter()
        .filter_map(|t| t.assignment.get("lr").and_then(|v| v.as_f64()))
        .collect();
    let span = lrs.iter().copied().fold(0.0, f64::max) / lrs.iter().copied().fold(1.0, f64::min);
    let lr_plot = &html[html.find("data-path=\"lr\"").expect("the lr plot")..];
    let lr_plot = &lr_plot[..lr_plot.find("</figure>").expect("its end")];
    assert_eq!(
        lr_plot.contains("lr (log scale)"),
        span > 20.0,
        "span {span}"
    );
    // The best table: the three finalists, in the order the run recorded.
    let info = Store::open(&store)
        .expect("store")
        .run(1)
        .expect("run")
        .expect("run 1");
    let best: Vec<String> = info.result.expect("a result")["best"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|v| v.to_string())
        .collect();
    assert_eq!(best.len(), 3);
    let shown: Vec<&str> = tags(&html, "<tr class=\"best-row\"")
        .into_iter()
        .map(|r| attr(r, "data-seq"))
        .collect();
    assert_eq!(shown, best);
    assert!(html.contains("no trial failed"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_two_objective_run_highlights_exactly_the_non_dominated_trials() {
    let dir = temp_dir("report-pareto");
    let text = space(
        "objective { minimize val_loss  minimize params }",
        "random(samples = 16, steps = 1) |> keep pareto",
    );
    let (store, done) = record(&dir, &text, Fail::HighLr);
    assert!(done);
    let (_, html) = report(&store, &dir);
    assert_self_contained(&html);
    let rows = trials(&store);
    let ok: Vec<&TrialRow> = rows
        .iter()
        .filter(|t| t.status == TrialStatus::Ok)
        .collect();
    let failed = rows.len() - ok.len();
    assert!(
        failed > 0 && ok.len() > 2,
        "seed 5 fails some trials, not all"
    );
    // The front, computed here: no other trial at least as good on both, better on one.
    let point = |t: &TrialRow| (t.metrics["val_loss"], t.metrics["params"]);
    let front: BTreeSet<String> = ok
        .iter()
        .filter(|t| {
            let (a, b) = point(t);
            !ok.iter().any(|o| {
                let (x, y) = point(o);
                x <= a && y <= b && (x < a || y < b)
            })
        })
        .map(|t| t.seq.to_string())
        .collect();
    let points = tags(&html, "<circle class=\"pareto-pt");
    assert_eq!(points.len(), ok.len());
    let ringed: BTreeSet<String> = points
        .iter()
        .filter(|p| attr(p, "class").split(' ').any(|c| c == "front"))
        .map(|p| attr(p, "data-seq").to_string())
        .collect();
    assert!(front.len() >= 2, "loss and size trade off: {front:?}");
    assert_eq!(ringed, front);
    assert!(html.contains("<polyline class=\"front-line\""));
    // Failed trials: listed with their reason, escaped; never a point.
    assert_eq!(tags(&html, "<tr class=\"failed-row\"").len(), failed);
    assert_eq!(tags(&html, "<circle class=\"metric-pt").len(), ok.len());
    assert!(html.contains("diverged: loss &lt;b&gt;&amp; &quot;nan&quot;"));
    assert!(!html.contains("<b>"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_run_whose_every_trial_failed_is_reported_without_plots() {
    let dir = temp_dir("report-failed");
    let text = space(
        "objective { minimize val_loss }",
        "random(samples = 12, steps = 1) |> keep top 3 by val_loss
        final(steps = 2)",
    );
    let (store, done) = record(&dir, &text, Fail::Always);
    assert!(!done, "the first layer keeps nothing");
    let (_, html) = report(&store, &dir);
    assert_self_contained(&html);
    assert_eq!(trials(&store).len(), 12);
    assert!(html.contains("12 (12 finished: 12 evaluated, 0 reused, 12 failed)"));
    assert!(html.contains("no trial finished: nothing to plot"));
    assert!(tags(&html, "<circle class=\"metric-pt").is_empty());
    assert!(tags(&html, "<circle class=\"hp-pt").is_empty());
    assert_eq!(tags(&html, "<tr class=\"failed-row\"").len(), 12);
    assert_eq!(
        html.matches("&lt;b&gt;&amp;").count(),
        12,
        "once in each failed row"
    );
    assert!(!html.contains("<b>"));
    assert!(html.contains("no best table"));
    assert!(html.contains("(not finished)"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_report_goes_to_the_current_directory_by_default() {
    let dir = temp_dir("report-default");
    let text = space(
        "objective { minimize val_loss }",
        "random(samples = 3, steps = 1)",
    );
    let (store, _) = record(&dir, &text, Fail::Never);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nasc"))
        .args(["report", "1", "--store", &store.display().to_string()])
        .current_dir(&dir)
        .output()
        .expect("nasc runs");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "nasc-report-1.html"
    );
    let html = std::fs::read_to_string(dir.join("nasc-report-1.html")).expect("written");
    assert_eq!(tags(&html, "<circle class=\"metric-pt").len(), 3);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn store_failures_are_e038_and_write_nothing() {
    let dir = temp_dir("report-missing");
    let text = space(
        "objective { minimize val_loss }",
        "random(samples = 2, steps = 1)",
    );
    let (store, _) = record(&dir, &text, Fail::Never);
    let out = dir.join("report.html");
    let args = |store: &Path| {
        vec![
            "report".to_string(),
            "9".to_string(),
            "--store".to_string(),
            store.display().to_string(),
            "-o".to_string(),
            out.display().to_string(),
            "--color".to_string(),
            "never".to_string(),
        ]
    };
    let run = |a: Vec<String>| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        nasc(&a)
    };
    // A run the store does not have.
    let (code, _, stderr) = run(args(&store));
    assert_eq!(code, 2);
    assert!(stderr.contains("nas::E038"), "{stderr}");
    assert!(stderr.contains("no run 9"), "{stderr}");
    assert!(!out.exists());
    // A file that is not a store.
    let junk = dir.join("junk.db");
    std::fs::write(
        &junk,
        "this is not a SQLite database, nor a nasc store\n".repeat(20),
    )
    .expect("junk file");
    let (code, _, stderr) = run(args(&junk));
    assert_eq!(code, 2);
    assert!(stderr.contains("nas::E038"), "{stderr}");
    assert!(!out.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
