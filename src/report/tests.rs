//! Tests of the report's assembly on hand-made store rows: path merging, escaping, values
//! that cannot be drawn, and runs with nothing to plot.

use std::collections::BTreeMap;

use super::*;
use crate::store::RunStatus;

fn info(plan: serde_json::Value, result: Option<serde_json::Value>) -> RunInfo {
    RunInfo {
        id: 7,
        created: 0.0,
        file: "/tmp/<odd> & \"file\".nas".into(),
        space: "s".into(),
        source_hash: String::new(),
        source: String::new(),
        seed: 3,
        plan,
        status: RunStatus::Done,
        finished: None,
        result,
    }
}

fn plan(objectives: &[(&str, &str)]) -> serde_json::Value {
    let objs: Vec<serde_json::Value> = objectives
        .iter()
        .map(|(n, d)| serde_json::json!({"name": n, "direction": d}))
        .collect();
    serde_json::json!({
        "objectives": objs,
        "rank": objs.first().cloned().unwrap_or(serde_json::json!({"name": "val_loss", "direction": "minimize"})),
        "layers": [{"strategy": "random", "args": {"samples": 4}, "filter": null}],
    })
}

fn trial(seq: i64, assignment: serde_json::Value, metrics: &[(&str, f64)]) -> TrialRow {
    TrialRow {
        run: 7,
        seq,
        layer: 0,
        hash: format!("{seq:032x}"),
        steps: 1,
        seed: 0,
        assignment,
        arch: serde_json::Value::Null,
        status: TrialStatus::Ok,
        reason: None,
        metrics: metrics
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect::<BTreeMap<_, _>>(),
        report: None,
        reused_from: None,
        owner: None,
        started: None,
        heartbeat: None,
        finished: None,
        wall_s: 1.0,
    }
}

#[test]
fn repetition_indices_merge_into_letters() {
    assert_eq!(merge_path("lr"), "lr");
    assert_eq!(
        merge_path("layers[0].ffn.activation"),
        "layers[i].ffn.activation"
    );
    assert_eq!(merge_path("layers[12].x"), "layers[i].x");
    assert_eq!(
        merge_path("blocks[1].pre_norm#2.heads[3].kind"),
        "blocks[i].pre_norm#2.heads[j].kind"
    );
    assert_eq!(merge_path("a[0].b[0].c[0].d[0]"), "a[i].b[j].c[k].d[n]");
    // Brackets that hold no plain index stay as written.
    assert_eq!(merge_path("x[].y[a1]"), "x[].y[a1]");
    assert_eq!(merge_path("x[3"), "x[3");
}

#[test]
fn repetitions_share_one_plot() {
    let trials = vec![
        trial(
            0,
            serde_json::json!({"layers": 2, "layers[0].act": "gelu", "layers[1].act": "relu"}),
            &[("val_loss", 1.0)],
        ),
        trial(
            1,
            serde_json::json!({"layers": 1, "layers[0].act": "relu"}),
            &[("val_loss", 2.0)],
        ),
    ];
    let html = render(&info(plan(&[]), None), &[], &trials);
    assert_eq!(html.matches("<figure class=\"hp\"").count(), 2, "{html}");
    assert!(html.contains("data-path=\"layers[i].act\""));
    // Three values of `layers[i].act` in all: three points, on a categorical axis.
    let act = &html[html.find("data-path=\"layers[i].act\"").expect("its plot")..];
    let act = &act[..act.find("</figure>").expect("its end")];
    assert_eq!(act.matches("class=\"hp-pt").count(), 3);
    assert!(act.contains(">gelu<") && act.contains(">relu<"), "{act}");
    // A whole-number hyperparameter gets whole-number ticks.
    let layers = &html[html.find("data-path=\"layers\"").expect("its plot")..];
    let layers = &layers[..layers.find("</figure>").expect("its end")];
    let x_ticks: Vec<&str> = layers
        .split("text-anchor=\"middle\">")
        .skip(1)
        .filter_map(|t| t.split_once("<title>").map(|(label, _)| label))
        .filter(|label| !label.contains('<'))
        .collect();
    assert_eq!(x_ticks, ["1", "2"], "{layers}");
}

#[test]
fn every_text_from_the_store_is_escaped() {
    let mut bad = trial(1, serde_json::json!({"kind": "<i>&\"'"}), &[]);
    bad.status = TrialStatus::Failed;
    bad.reason = Some("diverged <b>& \"loss\"".into());
    let trials = vec![
        trial(
            0,
            serde_json::json!({"kind": "<i>&\"'"}),
            &[("val_loss", 1.0)],
        ),
        bad,
    ];
    let html = render(&info(plan(&[]), None), &[], &trials);
    for raw in ["<b>", "<i>", "<odd>"] {
        assert!(!html.contains(raw), "{raw} unescaped in {html}");
    }
    assert!(html.contains("diverged &lt;b&gt;&amp; &quot;loss&quot;"));
    assert!(html.contains("data-path=\"kind\""));
}

#[test]
fn values_that_cannot_be_drawn_never_reach_the_svg() {
    // The store drops non-finite metrics; rows built by hand may still hold them.
    let trials = vec![
        trial(
            0,
            serde_json::json!({"lr": 1e-4, "w": 1}),
            &[("val_loss", 1.0), ("params", 10.0)],
        ),
        trial(
            1,
            serde_json::json!({"lr": 1e-2, "w": 2}),
            &[("val_loss", f64::NAN), ("params", 5.0)],
        ),
        trial(
            2,
            serde_json::json!({"lr": 1e-3, "w": 3}),
            &[("val_loss", f64::INFINITY), ("params", 1.0)],
        ),
        trial(
            3,
            serde_json::json!({"lr": 3e-3, "w": 4}),
            &[("val_loss", 0.5), ("params", f64::NEG_INFINITY)],
        ),
        trial(4, serde_json::json!({"lr": 5e-3}), &[("params", 2.0)]),
    ];
    let html = render(
        &info(
            plan(&[("val_loss", "minimize"), ("params", "minimize")]),
            None,
        ),
        &[],
        &trials,
    );
    let svg_text: String = html
        .split("<svg")
        .skip(1)
        .map(|p| p.split("</svg>").next().unwrap_or_default())
        .collect();
    let lower = svg_text.to_lowercase();
    assert!(
        !lower.contains("nan") && !lower.contains("inf"),
        "{svg_text}"
    );
    // Only the two trials with a finite loss are points of the metric plot.
    assert_eq!(html.matches("class=\"metric-pt").count(), 2);
    assert!(html.contains("3 finished trials did not measure <code>val_loss</code>"));
    // Only trial 0 has both objectives finite: it is the whole front.
    assert_eq!(html.matches("class=\"pareto-pt").count(), 1);
    assert_eq!(html.matches(" front\" cx=").count(), 1);
    // lr spans a factor of 100: a log axis.
    let lr = &html[html.find("data-path=\"lr\"").expect("the lr plot")..];
    assert!(lr[..lr.find("</figure>").expect("its end")].contains("lr (log scale)"));
    let w = &html[html.find("data-path=\"w\"").expect("the w plot")..];
    assert!(!w[..w.find("</figure>").expect("its end")].contains("(log scale)"));
}

#[test]
fn a_run_without_trials_says_so() {
    let html = render(&info(plan(&[("val_loss", "minimize")]), None), &[], &[]);
    assert!(html.contains("no trial finished: nothing to plot"));
    assert!(html.contains("the plan has one objective"));
    assert!(html.contains("no trial has a hyperparameter"));
    assert!(html.contains("no trial failed"));
    assert!(!html.contains("<svg class=\"chart\""));
    // The funnel still shows the planned layer, not finished.
    assert!(html.contains("(not finished)"));
}

#[test]
fn the_metric_is_the_recorded_ranking_else_the_plan_rank() {
    let recorded = info(
        plan(&[("val_loss", "minimize")]),
        Some(
            serde_json::json!({"ranked_by": {"name": "val_accuracy", "direction": "maximize"}, "best": []}),
        ),
    );
    assert_eq!(rank_metric(&recorded).name, "val_accuracy");
    let planned = info(
        plan(&[("params", "minimize"), ("val_loss", "minimize")]),
        None,
    );
    assert_eq!(rank_metric(&planned).name, "params");
    let bare = info(serde_json::json!({}), None);
    assert_eq!(rank_metric(&bare).name, "val_loss");
}

#[test]
fn best_so_far_follows_the_direction() {
    let trials = vec![
        trial(0, serde_json::json!({}), &[("val_accuracy", 0.5)]),
        trial(1, serde_json::json!({}), &[("val_accuracy", 0.4)]),
        trial(2, serde_json::json!({}), &[("val_accuracy", 0.7)]),
    ];
    let html = render(
        &info(plan(&[("val_accuracy", "maximize")]), None),
        &[],
        &trials,
    );
    // A staircase: (0, 0.5) → (1, 0.5) → (2, 0.5) → (2, 0.7), so four vertices and two
    // distinct heights.
    let line = &html[html
        .find("<polyline class=\"best-line\" points=\"")
        .expect("a line")..];
    let points = &line[line.find("points=\"").expect("points") + 8..];
    let points: Vec<&str> = points[..points.find('"').expect("end")]
        .split(' ')
        .collect();
    assert_eq!(points.len(), 4, "{points:?}");
    let ys: Vec<&str> = points
        .iter()
        .map(|p| p.split(',').nth(1).unwrap_or(""))
        .collect();
    assert_eq!(ys[0], ys[1]);
    assert_eq!(ys[1], ys[2]);
    assert_ne!(ys[2], ys[3]);
}
