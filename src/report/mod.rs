//! `nasc report`: one run of the results store as a self-contained HTML page. It reads
//! what `nasc show` reads (the run, its layers, its trials) and lays it out with plots: the
//! funnel of the layers, the ranking metric over the trials with the best so far, the
//! Pareto front of the first two objectives, each hyperparameter against the metric, the
//! best table and the failed trials. Styles and plots (SVG, from [`svg`]) are inline and
//! there is no script, so the file reads the same offline and anywhere it is copied. All
//! text from the store is escaped.

pub(crate) mod svg;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::cli::run::{
    best_table, duration, funnel, metric_from_json, ranked_by, show_metric, show_value,
    stop_reason, trail, TrialCounts,
};
use crate::search::filter::{self, Candidate, Keep, Metric};
use crate::store::{LayerRow, RunInfo, TrialRow, TrialStatus};
use svg::{escape, Axis, Chart, Mark, Point};

/// The page's styles: layers coloured with the Okabe–Ito palette, which stays apart for
/// colour-blind readers.
const STYLE: &str = "
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; color: #222; margin: 2em auto; max-width: 72em; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
code, pre { font-family: ui-monospace, 'SF Mono', Menlo, Consolas, monospace; font-size: 0.92em; }
table { border-collapse: collapse; margin: 0.5em 0; } th, td { padding: 0.2em 0.7em; text-align: left; vertical-align: top; border-bottom: 1px solid #eee; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 0.1em 1em; } dl.facts dt { color: #666; } dl.facts dd { margin: 0; }
.note { color: #666; } .stopped { color: #b00; }
.plots { display: flex; flex-wrap: wrap; gap: 1em; } figure { margin: 0; } figcaption { font-size: 0.9em; }
svg.chart { max-width: 100%; height: auto; font-size: 11px; }
svg .frame { fill: none; stroke: #999; } svg .grid { stroke: #eee; } svg .tick, svg .legend { fill: #444; } svg .axis-label { fill: #222; font-size: 12px; }
svg circle { stroke: #fff; stroke-width: 0.5; fill-opacity: 0.85; }
.l0 { fill: #0072B2; } .l1 { fill: #E69F00; } .l2 { fill: #009E73; } .l3 { fill: #CC79A7; }
.l4 { fill: #56B4E9; } .l5 { fill: #D55E00; } .l6 { fill: #000000; } .l7 { fill: #999999; }
svg .best-line { fill: none; stroke: #222; stroke-width: 1.5; }
svg .failed-mark { stroke: #c00; stroke-width: 1.5; }
svg circle.front { stroke: #222; stroke-width: 1.5; } svg .front-line { fill: none; stroke: #222; stroke-width: 1.2; stroke-dasharray: 4 3; }
svg .bar-evaluated { fill: #9ecae1; } svg .bar-kept { fill: #08519c; } svg .bar-failed { fill: #c00; }
svg circle.bar-evaluated, svg circle.bar-kept, svg circle.bar-failed { stroke: none; }
details summary { cursor: pointer; }
";

/// How many layer colours the style defines.
const LAYER_COLOURS: usize = 8;

/// The HTML report of a run, from its stored info, layers and trials.
pub fn render(info: &RunInfo, layers: &[LayerRow], trials: &[TrialRow]) -> String {
    let metric = rank_metric(info);
    let mut s = String::new();
    let title = format!("nasc run {} of {}", info.id, info.space);
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(&title)
    );
    header(&mut s, info, trials, &metric);
    funnel_section(&mut s, info, layers, trials);
    metric_section(&mut s, trials, &metric);
    pareto_section(&mut s, info, trials);
    hyperparameter_section(&mut s, trials, &metric);
    best_section(&mut s, info, trials);
    failed_section(&mut s, trials);
    let _ = write!(
        s,
        "<p class=\"note\">written by nasc {} from the results store</p>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION")
    );
    s
}

/// The metric the report ranks by: the one the run's result records (the last layer's
/// ranking, as `nasc show` uses), else the plan's `rank`, else `val_loss`.
fn rank_metric(info: &RunInfo) -> Metric {
    ranked_by(info)
        .or_else(|| metric_from_json(info.plan.get("rank")?))
        .unwrap_or_else(|| Metric::named("val_loss", &[]))
}

/// The plan's objectives, in order.
fn objectives(info: &RunInfo) -> Vec<Metric> {
    info.plan
        .get("objectives")
        .and_then(|o| o.as_array())
        .map(|a| a.iter().filter_map(metric_from_json).collect())
        .unwrap_or_default()
}

/// The CSS class of a layer's colour.
fn layer_class(layer: i64) -> String {
    format!("l{}", layer.rem_euclid(LAYER_COLOURS as i64))
}

/// The legend of the layers that have trials among `trials`.
fn layer_legend<'a>(trials: impl Iterator<Item = &'a TrialRow>) -> Vec<(String, String)> {
    let mut seen: Vec<i64> = trials.map(|t| t.layer).collect();
    seen.sort_unstable();
    seen.dedup();
    seen.into_iter()
        .map(|l| (format!("layer {}", l + 1), layer_class(l)))
        .collect()
}

/// A trial's value of `metric`, when it finished and measured it (finite).
fn measured(t: &TrialRow, metric: &str) -> Option<f64> {
    if t.status != TrialStatus::Ok {
        return None;
    }
    t.metrics.get(metric).copied().filter(|v| v.is_finite())
}

/// The title and the run's facts: file, seed, status, trial counts, cost, objectives.
fn header(s: &mut String, info: &RunInfo, trials: &[TrialRow], metric: &Metric) {
    let c = TrialCounts::of(trials);
    let running = c.total - c.finished;
    let _ = write!(
        s,
        "<h1>Run {} of space <code>{}</code></h1>\n<dl class=\"facts\">\n",
        info.id,
        escape(&info.space)
    );
    let mut fact = |name: &str, html: String| {
        let _ = writeln!(s, "<dt>{name}</dt><dd>{html}</dd>");
    };
    fact("file", format!("<code>{}</code>", escape(&info.file)));
    fact("seed", info.seed.to_string());
    fact("status", escape(info.status.as_str()));
    let mut trials_text = format!(
        "{} ({} finished: {} evaluated, {} reused, {} failed",
        c.total,
        c.finished,
        c.finished - c.reused,
        c.reused,
        c.failed
    );
    if running > 0 {
        let _ = write!(trials_text, "; {running} running");
    }
    trials_text.push(')');
    fact("trials", trials_text);
    fact("evaluation time", escape(&duration(c.cost_s)));
    let objs = objectives(info);
    if !objs.is_empty() {
        let list: Vec<String> = objs
            .iter()
            .map(|m| format!("<code>{}</code>", escape(&m.arrow())))
            .collect();
        fact("objectives", list.join(", "));
    }
    fact(
        "ranked by",
        format!("<code>{}</code>", escape(&metric.arrow())),
    );
    s.push_str("</dl>\n");
    if let Some(e) = stop_reason(info) {
        let _ = writeln!(s, "<p class=\"stopped\">the run stopped: {}</p>", escape(e));
    }
}

/// Per layer: candidates in, trials evaluated and failed, candidates kept, the strategy,
/// the filter and the cost, as a table and as narrowing bars.
fn funnel_section(s: &mut String, info: &RunInfo, layers: &[LayerRow], trials: &[TrialRow]) {
    s.push_str("<h2 id=\"funnel\">The funnel of the layers</h2>\n");
    let rows = funnel(info, layers, trials);
    if rows.is_empty() {
        s.push_str("<p class=\"note\">the plan has no layers</p>\n");
        return;
    }
    s.push_str(
        "<table class=\"funnel\"><thead><tr><th class=\"num\">layer</th><th>strategy</th>\
         <th class=\"num\">in</th><th class=\"num\">evaluated</th><th class=\"num\">failed</th>\
         <th class=\"num\">kept</th><th>filter</th><th class=\"num\">cost</th></tr></thead><tbody>\n",
    );
    let dash = |n: Option<usize>| n.map_or("-".to_string(), |n| n.to_string());
    for r in &rows {
        let _ = writeln!(
            s,
            "<tr><td class=\"num\">{}</td><td><code>{}</code></td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td><code>{}</code></td><td class=\"num\">{}</td></tr>",
            r.layer,
            escape(&r.call),
            dash(r.input),
            r.evaluated,
            r.failed,
            dash(r.kept),
            escape(&r.filter),
            escape(&duration(r.cost_s))
        );
    }
    s.push_str("</tbody></table>\n");
    let bars: Vec<svg::FunnelBar> = rows
        .iter()
        .map(|r| svg::FunnelBar {
            layer: r.layer,
            label: r.call.split('(').next().unwrap_or_default().to_string(),
            title: format!("{} |> {}", r.call, r.filter),
            evaluated: r.evaluated,
            failed: r.failed,
            kept: r.kept,
        })
        .collect();
    let _ = writeln!(s, "<figure>{}</figure>", svg::funnel(&bars, 720.0));
}

/// The ranking metric of every finished trial in order, by layer, with the best so far;
/// failed trials as ticks on the axis.
fn metric_section(s: &mut String, trials: &[TrialRow], metric: &Metric) {
    let _ = writeln!(
        s,
        "<h2 id=\"metric\">{} over the trials</h2>",
        escape(&metric.name)
    );
    let points: Vec<(&TrialRow, f64)> = trials
        .iter()
        .filter_map(|t| measured(t, &metric.name).map(|v| (t, v)))
        .collect();
    let ok = trials
        .iter()
        .filter(|t| t.status == TrialStatus::Ok)
        .count();
    if points.is_empty() {
        let why = if ok == 0 {
            "no trial finished".to_string()
        } else {
            format!(
                "none of the {ok} finished trials measured <code>{}</code>",
                escape(&metric.name)
            )
        };
        let _ = writeln!(s, "<p class=\"note\">{why}: nothing to plot</p>");
        return;
    }
    let seqs: Vec<f64> = trials.iter().map(|t| t.seq as f64).collect();
    let values: Vec<f64> = points.iter().map(|(_, v)| *v).collect();
    let mut chart = Chart::new(
        720.0,
        320.0,
        Axis::numeric(&seqs, false, 1.0),
        Axis::numeric(&values, true, 0.0),
    );
    chart.x_label = "trial".into();
    chart.y_label = axis_name(&metric.arrow(), &chart.y);
    let mut best: Option<f64> = None;
    let mut line = Vec::new();
    for (t, v) in &points {
        if best.is_none_or(|b| metric.order(*v, b).is_lt()) {
            best = Some(*v);
        }
        line.push((t.seq as f64, best.unwrap_or(*v)));
    }
    chart.marks.push(Mark::Line {
        points: line,
        class: "best-line".into(),
        steps: true,
    });
    for t in trials.iter().filter(|t| t.status == TrialStatus::Failed) {
        chart.marks.push(Mark::Rug {
            x: t.seq as f64,
            class: "failed-mark".into(),
            data: vec![("seq", t.seq.to_string())],
            title: format!(
                "#{} (layer {}) failed: {}",
                t.seq,
                t.layer + 1,
                t.reason.as_deref().unwrap_or("no reason given")
            ),
        });
    }
    for (t, v) in &points {
        chart.marks.push(Mark::Point(Point {
            x: t.seq as f64,
            y: *v,
            class: format!("metric-pt {}", layer_class(t.layer)),
            radius: 3.5,
            data: vec![
                ("seq", t.seq.to_string()),
                ("layer", (t.layer + 1).to_string()),
            ],
            title: trial_title(t, &metric.name, *v),
        }));
    }
    chart.legend = layer_legend(points.iter().map(|(t, _)| *t));
    chart
        .legend
        .push(("best so far".into(), "best-swatch l6".into()));
    let _ = writeln!(
        s,
        "<figure>{}<figcaption>each finished trial's <code>{}</code> in the order the trials were asked for, coloured by layer; \
         the line is the best so far{}</figcaption></figure>",
        chart.to_svg(&format!("{} over the trials", metric.name)),
        escape(&metric.name),
        if trials.iter().any(|t| t.status == TrialStatus::Failed) {
            "; red ticks on the axis are failed trials"
        } else {
            ""
        }
    );
    if ok > points.len() {
        let _ = writeln!(
            s,
            "<p class=\"note\">{} finished trials did not measure <code>{}</code> and are not shown</p>",
            ok - points.len(),
            escape(&metric.name)
        );
    }
}

/// An axis's name, saying when it is logarithmic.
fn axis_name(name: &str, axis: &Axis) -> String {
    if axis.is_log() {
        format!("{name} (log scale)")
    } else {
        name.to_string()
    }
}

/// What hovering a trial's point shows.
fn trial_title(t: &TrialRow, metric: &str, v: f64) -> String {
    let reused = t
        .reused_from
        .map_or(String::new(), |r| format!(", same as #{r}"));
    format!(
        "#{} (layer {}, {} step{}{reused}): {metric} {}",
        t.seq,
        t.layer + 1,
        t.steps,
        if t.steps == 1 { "" } else { "s" },
        show_metric(metric, v)
    )
}

/// Every finished trial on the first two objectives, the non-dominated ones ringed and
/// joined; with fewer than two objectives, a line saying so.
fn pareto_section(s: &mut String, info: &RunInfo, trials: &[TrialRow]) {
    s.push_str("<h2 id=\"pareto\">The Pareto front</h2>\n");
    let objs = objectives(info);
    if objs.len() < 2 {
        let what = match objs.first() {
            Some(m) => format!("one objective, <code>{}</code>", escape(&m.arrow())),
            None => "no objectives".to_string(),
        };
        let _ = writeln!(
            s,
            "<p class=\"note\">the plan has {what}: there is no front to draw</p>"
        );
        return;
    }
    let pair = vec![objs[0].clone(), objs[1].clone()];
    let points: Vec<(&TrialRow, f64, f64)> = trials
        .iter()
        .filter_map(|t| Some((t, measured(t, &pair[0].name)?, measured(t, &pair[1].name)?)))
        .collect();
    if points.is_empty() {
        let _ = writeln!(
            s,
            "<p class=\"note\">no finished trial measured both <code>{}</code> and <code>{}</code>: nothing to plot</p>",
            escape(&pair[0].name),
            escape(&pair[1].name)
        );
        return;
    }
    let none = BTreeMap::new();
    let cands: Vec<Candidate> = points
        .iter()
        .map(|(t, _, _)| Candidate {
            failed: false,
            metrics: &t.metrics,
            values: &none,
        })
        .collect();
    let mut front = filter::apply(&Keep::Pareto(pair.clone()), &cands);
    front.sort_by(|&a, &b| {
        points[a]
            .1
            .total_cmp(&points[b].1)
            .then(points[a].2.total_cmp(&points[b].2))
    });
    let xs: Vec<f64> = points.iter().map(|p| p.1).collect();
    let ys: Vec<f64> = points.iter().map(|p| p.2).collect();
    let mut chart = Chart::new(
        720.0,
        360.0,
        Axis::numeric(&xs, true, 0.0),
        Axis::numeric(&ys, true, 0.0),
    );
    chart.x_label = axis_name(&pair[0].arrow(), &chart.x);
    chart.y_label = axis_name(&pair[1].arrow(), &chart.y);
    chart.marks.push(Mark::Line {
        points: front.iter().map(|&i| (points[i].1, points[i].2)).collect(),
        class: "front-line".into(),
        steps: false,
    });
    for (i, (t, x, y)) in points.iter().enumerate() {
        let on_front = front.contains(&i);
        chart.marks.push(Mark::Point(Point {
            x: *x,
            y: *y,
            class: format!(
                "pareto-pt {}{}",
                layer_class(t.layer),
                if on_front { " front" } else { "" }
            ),
            radius: if on_front { 5.0 } else { 3.5 },
            data: vec![("seq", t.seq.to_string())],
            title: format!(
                "{}, {} {}{}",
                trial_title(t, &pair[0].name, *x),
                pair[1].name,
                show_metric(&pair[1].name, *y),
                if on_front { " (non-dominated)" } else { "" }
            ),
        }));
    }
    chart.legend = layer_legend(points.iter().map(|p| p.0));
    let more = if objs.len() > 2 {
        format!(
            " (the first two of the plan's {} objectives; the front is taken on these two)",
            objs.len()
        )
    } else {
        String::new()
    };
    let _ = writeln!(
        s,
        "<figure>{}<figcaption>every finished trial on <code>{}</code> and <code>{}</code>{more}; \
         the {} non-dominated ones are ringed and joined</figcaption></figure>",
        chart.to_svg("the Pareto front"),
        escape(&pair[0].arrow()),
        escape(&pair[1].arrow()),
        front.len()
    );
}

/// A hyperparameter path with every repetition index replaced by a letter, so the
/// repetitions of one choice share a plot: `layers[0].ffn.activation` and
/// `layers[3].ffn.activation` are both `layers[i].ffn.activation`; nested repetitions
/// use `i`, `j`, `k`, then `n`.
pub(crate) fn merge_path(path: &str) -> String {
    crate::space::summary::index_pattern(path, |depth| {
        ['i', 'j', 'k'].get(depth).copied().unwrap_or('n')
    })
}

/// The values each merged hyperparameter path took, per trial (a trial may give a merged
/// path several values, one per repetition).
fn hyperparameters(trials: &[TrialRow]) -> BTreeMap<String, Vec<(&TrialRow, &serde_json::Value)>> {
    let mut paths: BTreeMap<String, Vec<(&TrialRow, &serde_json::Value)>> = BTreeMap::new();
    for t in trials {
        if let Some(a) = t.assignment.as_object() {
            for (k, v) in a {
                paths.entry(merge_path(k)).or_default().push((t, v));
            }
        }
    }
    paths
}

/// One small plot per merged hyperparameter path against the ranking metric.
fn hyperparameter_section(s: &mut String, trials: &[TrialRow], metric: &Metric) {
    let _ = writeln!(
        s,
        "<h2 id=\"hyperparameters\">Each hyperparameter against <code>{}</code></h2>",
        escape(&metric.name)
    );
    let paths = hyperparameters(trials);
    if paths.is_empty() {
        s.push_str("<p class=\"note\">no trial has a hyperparameter</p>\n");
        return;
    }
    // One vertical axis for every plot, so they compare at a glance.
    let all: Vec<f64> = trials
        .iter()
        .filter_map(|t| measured(t, &metric.name))
        .collect();
    let y = Axis::numeric(&all, true, 0.0);
    let _ = writeln!(
        s,
        "<p class=\"note\">one plot per hyperparameter, the repetitions of a <code>repeat</code> merged \
         (<code>layers[i]</code>); numbers as a scatter (on a log scale when they span more than a factor of 20), \
         other values as a strip per value; points coloured by layer as above, the same <code>{}</code> scale in every plot</p>",
        escape(&metric.name)
    );
    s.push_str("<div class=\"plots\">\n");
    for (path, values) in &paths {
        let _ = write!(
            s,
            "<figure class=\"hp\" data-path=\"{}\"><figcaption><code>{}</code></figcaption>",
            escape(path),
            escape(path)
        );
        let plotted: Vec<(&TrialRow, &serde_json::Value, f64)> = values
            .iter()
            .filter_map(|(t, v)| measured(t, &metric.name).map(|m| (*t, *v, m)))
            .collect();
        if plotted.is_empty() {
            let _ = write!(
                s,
                "<p class=\"note\">no finished trial with it measured <code>{}</code></p>",
                escape(&metric.name)
            );
        } else {
            s.push_str(&hyperparameter_chart(path, &plotted, y.clone(), metric));
        }
        s.push_str("</figure>\n");
    }
    s.push_str("</div>\n");
}

/// One hyperparameter's plot: a scatter when every value is a number, else a strip per
/// category (sorted), points spread sideways within their band.
fn hyperparameter_chart(
    path: &str,
    plotted: &[(&TrialRow, &serde_json::Value, f64)],
    y: Axis,
    metric: &Metric,
) -> String {
    let numbers: Option<Vec<f64>> = plotted.iter().map(|(_, v, _)| v.as_f64()).collect();
    // Whole numbers (layers, widths) get whole-number ticks.
    let whole = plotted.iter().all(|(_, v, _)| v.is_i64() || v.is_u64());
    let (x, xs): (Axis, Vec<f64>) = match numbers {
        Some(ns) => (Axis::numeric(&ns, true, if whole { 1.0 } else { 0.0 }), ns),
        None => {
            let names: Vec<String> = plotted.iter().map(|(_, v, _)| show_value(v)).collect();
            let mut categories = names.clone();
            categories.sort();
            categories.dedup();
            let xs = names
                .iter()
                .zip(plotted)
                .map(|(n, (t, _, _))| {
                    let band = categories.binary_search(n).unwrap_or(0) as f64;
                    band + jitter(t.seq)
                })
                .collect();
            (Axis::Categories(categories), xs)
        }
    };
    let mut chart = Chart::new(340.0, 230.0, x, y);
    chart.x_label = axis_name(path, &chart.x);
    chart.y_label = axis_name(&metric.name, &chart.y);
    for ((t, v, m), x) in plotted.iter().zip(xs) {
        chart.marks.push(Mark::Point(Point {
            x,
            y: *m,
            class: format!("hp-pt {}", layer_class(t.layer)),
            radius: 3.0,
            data: vec![("seq", t.seq.to_string())],
            title: format!(
                "{}; {path} = {}",
                trial_title(t, &metric.name, *m),
                show_value(v)
            ),
        }));
    }
    chart.to_svg(&format!("{path} against {}", metric.name))
}

/// A trial's sideways offset within its category's band, in [-0.3, 0.3]: fixed per trial,
/// so the same run always draws the same picture.
fn jitter(seq: i64) -> f64 {
    let h = (seq as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
    (h as f64 / (1u64 << 24) as f64 - 0.5) * 0.6
}

/// The best table, as `nasc show` prints it: rank, trial, hash, metrics, values, and the
/// trials at which each architecture was evaluated.
fn best_section(s: &mut String, info: &RunInfo, trials: &[TrialRow]) {
    s.push_str("<h2 id=\"best\">The best</h2>\n");
    let Some(table) = best_table(info, trials) else {
        let why = match stop_reason(info) {
            Some(e) => format!("the run stopped before its end: {}", escape(e)),
            None => format!(
                "the run is {} and has recorded no result yet",
                escape(info.status.as_str())
            ),
        };
        let _ = writeln!(s, "<p class=\"note\">no best table: {why}</p>");
        return;
    };
    let _ = write!(
        s,
        "<p>the last layer's survivors, best first, by <code>{}</code></p>\n<table class=\"best\"><thead><tr>\
         <th class=\"num\">rank</th><th>trial</th><th>hash</th>",
        escape(&table.metric.arrow())
    );
    for c in &table.columns {
        let _ = write!(s, "<th class=\"num\">{}</th>", escape(c));
    }
    s.push_str("<th>values</th><th>evaluated at</th></tr></thead><tbody>\n");
    for (rank, r) in table.rows.iter().enumerate() {
        let _ = write!(
            s,
            "<tr class=\"best-row\" data-seq=\"{}\"><td class=\"num\">{}</td><td>#{}</td><td><code>{}</code></td>",
            r.seq,
            rank + 1,
            r.seq,
            escape(&r.hash[..12.min(r.hash.len())])
        );
        for c in &table.columns {
            let v = r
                .metrics
                .get(c)
                .map_or("-".to_string(), |v| show_metric(c, *v));
            let _ = write!(s, "<td class=\"num\">{}</td>", escape(&v));
        }
        let values: Vec<String> = r
            .assignment
            .as_object()
            .map(|a| {
                a.iter()
                    .map(|(k, v)| {
                        format!("<code>{} = {}</code>", escape(k), escape(&show_value(v)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "<td>{}</td><td>{}</td></tr>",
            values.join("<br>"),
            escape(&trail(trials, &r.hash).join(" → "))
        );
    }
    s.push_str("</tbody></table>\n");
}

/// The failed trials with their reasons.
fn failed_section(s: &mut String, trials: &[TrialRow]) {
    let failed: Vec<&TrialRow> = trials
        .iter()
        .filter(|t| t.status == TrialStatus::Failed)
        .collect();
    s.push_str("<h2 id=\"failed\">Failed trials</h2>\n");
    if failed.is_empty() {
        s.push_str("<p class=\"note\">no trial failed</p>\n");
        return;
    }
    // A long list starts folded.
    let _ = write!(
        s,
        "<details{}><summary>{} failed trial{}</summary>\n<table class=\"failed\"><thead><tr>\
         <th>trial</th><th class=\"num\">layer</th><th>hash</th><th class=\"num\">steps</th><th>reason</th></tr></thead><tbody>\n",
        if failed.len() <= 20 { " open" } else { "" },
        failed.len(),
        if failed.len() == 1 { "" } else { "s" }
    );
    for t in failed {
        let reused = t
            .reused_from
            .map_or(String::new(), |r| format!(" (same as #{r})"));
        let _ = writeln!(
            s,
            "<tr class=\"failed-row\" data-seq=\"{}\"><td>#{}{reused}</td><td class=\"num\">{}</td><td><code>{}</code></td>\
             <td class=\"num\">{}</td><td>{}</td></tr>",
            t.seq,
            t.seq,
            t.layer + 1,
            escape(&t.hash[..12.min(t.hash.len())]),
            t.steps,
            escape(t.reason.as_deref().unwrap_or("no reason given"))
        );
    }
    s.push_str("</tbody></table></details>\n");
}

#[cfg(test)]
mod tests;
