//! Small SVG charts for `nasc report`: numeric, logarithmic and categorical axes with
//! ticks and labels, points (each with a hover title and data attributes), lines, rug
//! marks and a legend, plus the funnel of a run's layers. The output is inline SVG text
//! for an HTML page: no fonts, scripts or styles of its own (the page's CSS colours it by
//! class), and every number written into it is finite: a value that cannot be placed on
//! its axis (NaN, an infinity, a non-positive value on a log axis) is left out.

use std::fmt::Write as _;

/// Escapes text for HTML and SVG, in element content and in quoted attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A pixel coordinate as SVG text. Callers check finiteness first; a value that slipped
/// through is written as 0 rather than as `NaN`.
fn px(v: f64) -> String {
    if v.is_finite() {
        format!("{:.1}", v)
    } else {
        "0".to_string()
    }
}

/// The smallest of 1, 2 and 5 times a power of ten that is at least `raw` (positive).
pub(crate) fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|s| *s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * power)
}

/// Ticks for a linear axis over `[lo, hi]`: about `target` of them, a nice step no smaller
/// than `min_step`, and the domain widened to whole steps. Returns (start, end, step, ticks).
pub(crate) fn linear_ticks(
    lo: f64,
    hi: f64,
    target: usize,
    min_step: f64,
) -> (f64, f64, f64, Vec<f64>) {
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        (lo - pad, lo + pad)
    };
    let step = nice_step(((hi - lo) / target.max(1) as f64).max(min_step));
    let first = (lo / step).floor();
    let last = (hi / step).ceil();
    let ticks = (0..=((last - first) as i64).clamp(0, 1000))
        .map(|k| (first + k as f64) * step)
        .collect();
    (first * step, last * step, step, ticks)
}

/// Whether values are better shown on a log axis: all (finite ones) positive, spanning
/// more than a factor of 20.
pub(crate) fn wants_log(values: &[f64]) -> bool {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let Some(lo) = finite.iter().copied().reduce(f64::min) else {
        return false;
    };
    let hi = finite.iter().copied().fold(lo, f64::max);
    lo > 0.0 && hi / lo > 20.0
}

/// Ticks for a log axis over `[lo, hi]` (both positive): the domain widened to powers of
/// ten, a tick at each (every other one past eight decades), and at 2 and 5 times each when
/// the axis spans at most two decades. Returns (start, end, ticks).
pub(crate) fn log_ticks(lo: f64, hi: f64) -> (f64, f64, Vec<f64>) {
    let first = lo.log10().floor() as i32;
    let last = (hi.log10().ceil() as i32).max(first + 1);
    let every = if last - first > 8 { 2 } else { 1 };
    let mut ticks = Vec::new();
    for e in (first..=last).step_by(every) {
        let p = 10f64.powi(e);
        ticks.push(p);
        if last - first <= 2 && e < last {
            ticks.extend([2.0 * p, 5.0 * p]);
        }
    }
    (10f64.powi(first), 10f64.powi(last), ticks)
}

/// A number as a tick label: short, with thousands as `k` and millions as `M`, tiny
/// values in exponent form, and trailing zeros dropped.
pub(crate) fn compact(v: f64) -> String {
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    let a = v.abs();
    if a == 0.0 {
        "0".to_string()
    } else if a >= 1e9 {
        format!("{}G", trim(format!("{:.2}", v / 1e9)))
    } else if a >= 1e6 {
        format!("{}M", trim(format!("{:.2}", v / 1e6)))
    } else if a >= 1e4 {
        format!("{}k", trim(format!("{:.2}", v / 1e3)))
    } else if a < 1e-3 {
        let s = format!("{v:.1e}");
        s.replace(".0e", "e")
    } else {
        let digits = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
        trim(format!("{v:.digits$}"))
    }
}

/// A label for a tick of a linear axis with this step: as many decimals as the step needs.
fn linear_label(v: f64, step: f64) -> String {
    if v.abs() >= 1e4 || (step < 1e-3 && v != 0.0) {
        return compact(v);
    }
    let decimals = (-step.log10().floor()).clamp(0.0, 6.0) as usize;
    let s = format!("{v:.decimals$}");
    // `-0.0` rounds to "-0".
    if s.trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        "0".to_string()
    } else {
        s
    }
}

/// An axis: where values fall along it, and its ticks.
#[derive(Clone, Debug)]
pub(crate) enum Axis {
    /// Numbers, evenly spaced.
    Linear {
        /// The value at the start.
        lo: f64,
        /// The value at the end.
        hi: f64,
        /// The distance between ticks.
        step: f64,
        /// Where ticks go.
        ticks: Vec<f64>,
    },
    /// Positive numbers, by their logarithm.
    Log {
        /// The value at the start.
        lo: f64,
        /// The value at the end.
        hi: f64,
        /// Where ticks go.
        ticks: Vec<f64>,
    },
    /// Named categories, one band each; a value is a band's index (plus a jitter).
    Categories(Vec<String>),
}

impl Axis {
    /// An axis over the finite `values`: logarithmic when `allow_log` and [`wants_log`]
    /// agree, else linear with ticks at least `min_step` apart.
    pub(crate) fn numeric(values: &[f64], allow_log: bool, min_step: f64) -> Axis {
        let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        let Some(lo) = finite.iter().copied().reduce(f64::min) else {
            let (lo, hi, step, ticks) = linear_ticks(0.0, 1.0, 5, min_step);
            return Axis::Linear {
                lo,
                hi,
                step,
                ticks,
            };
        };
        let hi = finite.iter().copied().fold(lo, f64::max);
        if allow_log && wants_log(&finite) {
            let (lo, hi, ticks) = log_ticks(lo, hi);
            return Axis::Log { lo, hi, ticks };
        }
        let (lo, hi, step, ticks) = linear_ticks(lo, hi, 5, min_step);
        Axis::Linear {
            lo,
            hi,
            step,
            ticks,
        }
    }

    /// Whether it is logarithmic.
    pub(crate) fn is_log(&self) -> bool {
        matches!(self, Axis::Log { .. })
    }

    /// Where `v` falls: 0 at the start, 1 at the end; `None` where it cannot be placed.
    pub(crate) fn fraction(&self, v: f64) -> Option<f64> {
        let f = match self {
            Axis::Linear { lo, hi, .. } => (v - lo) / (hi - lo),
            Axis::Log { lo, hi, .. } if v > 0.0 => (v.ln() - lo.ln()) / (hi.ln() - lo.ln()),
            Axis::Log { .. } => return None,
            Axis::Categories(names) => (v + 0.5) / names.len().max(1) as f64,
        };
        f.is_finite().then_some(f)
    }

    /// Each tick's fraction and label.
    fn tick_marks(&self) -> Vec<(f64, String)> {
        let label = |v: f64| match self {
            Axis::Linear { step, .. } => linear_label(v, *step),
            _ => compact(v),
        };
        match self {
            Axis::Linear { ticks, .. } | Axis::Log { ticks, .. } => ticks
                .iter()
                .filter_map(|t| self.fraction(*t).map(|f| (f, label(*t))))
                .collect(),
            Axis::Categories(names) => names
                .iter()
                .enumerate()
                .filter_map(|(i, n)| self.fraction(i as f64).map(|f| (f, n.clone())))
                .collect(),
        }
    }
}

/// One point of a chart.
#[derive(Clone, Debug)]
pub(crate) struct Point {
    /// Its x value (a band index on a categorical axis).
    pub(crate) x: f64,
    /// Its y value.
    pub(crate) y: f64,
    /// Its CSS classes.
    pub(crate) class: String,
    /// Its radius in pixels.
    pub(crate) radius: f64,
    /// `data-` attributes: name (without the prefix) and value.
    pub(crate) data: Vec<(&'static str, String)>,
    /// What hovering it shows.
    pub(crate) title: String,
}

/// Something drawn in a chart's plotting area.
#[derive(Clone, Debug)]
pub(crate) enum Mark {
    /// A point.
    Point(Point),
    /// A line through points, broken where a point cannot be placed; with `steps`, a
    /// staircase (horizontal, then vertical).
    Line {
        /// Its points, in drawing order.
        points: Vec<(f64, f64)>,
        /// Its CSS classes.
        class: String,
        /// Whether it is drawn as a staircase.
        steps: bool,
    },
    /// A short vertical tick at the bottom of the plotting area, at `x`.
    Rug {
        /// Its x value.
        x: f64,
        /// Its CSS classes.
        class: String,
        /// `data-` attributes.
        data: Vec<(&'static str, String)>,
        /// What hovering it shows.
        title: String,
    },
}

/// A chart with two axes.
#[derive(Clone, Debug)]
pub(crate) struct Chart {
    /// Its width in pixels.
    pub(crate) width: f64,
    /// Its height in pixels.
    pub(crate) height: f64,
    /// The horizontal axis.
    pub(crate) x: Axis,
    /// The vertical axis.
    pub(crate) y: Axis,
    /// The horizontal axis's name.
    pub(crate) x_label: String,
    /// The vertical axis's name.
    pub(crate) y_label: String,
    /// What is drawn, in order (later on top).
    pub(crate) marks: Vec<Mark>,
    /// The legend: each entry's text and the CSS class of its swatch.
    pub(crate) legend: Vec<(String, String)>,
}

const LEFT: f64 = 62.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 42.0;
const LEGEND_ROW: f64 = 20.0;
/// Pixels between the frame and the first or last tick.
const INSET: f64 = 8.0;

impl Chart {
    /// An empty chart of this size and these axes.
    pub(crate) fn new(width: f64, height: f64, x: Axis, y: Axis) -> Chart {
        Chart {
            width,
            height,
            x,
            y,
            x_label: String::new(),
            y_label: String::new(),
            marks: Vec::new(),
            legend: Vec::new(),
        }
    }

    /// The plotting area: left, top, right, bottom.
    fn area(&self) -> (f64, f64, f64, f64) {
        let top = TOP
            + if self.legend.is_empty() {
                0.0
            } else {
                LEGEND_ROW
            };
        (LEFT, top, self.width - RIGHT, self.height - BOTTOM)
    }

    /// The pixel position of a value pair, `None` when either cannot be placed.
    fn place(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        let (l, t, r, b) = self.area();
        let fx = self.x.fraction(x)?;
        let fy = self.y.fraction(y)?;
        let px = l + INSET + fx * (r - l - 2.0 * INSET);
        let py = b - INSET - fy * (b - t - 2.0 * INSET);
        (px.is_finite() && py.is_finite()).then_some((px, py))
    }

    /// The chart as an `<svg>` element, labelled `aria` for screen readers.
    pub(crate) fn to_svg(&self, aria: &str) -> String {
        let mut s = String::new();
        let (l, t, r, b) = self.area();
        let _ = write!(
            s,
            "<svg class=\"chart\" viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\" role=\"img\" aria-label=\"{}\">",
            px(self.width),
            px(self.height),
            px(self.width),
            px(self.height),
            escape(aria)
        );
        // The frame, the grid and the tick labels.
        let _ = write!(
            s,
            "<rect class=\"frame\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>",
            px(l),
            px(t),
            px(r - l),
            px(b - t)
        );
        let categorical_x = matches!(self.x, Axis::Categories(_));
        let band = match &self.x {
            Axis::Categories(names) => (r - l - 2.0 * INSET) / names.len().max(1) as f64,
            _ => f64::INFINITY,
        };
        for (f, label) in self.x.tick_marks() {
            let x = l + INSET + f * (r - l - 2.0 * INSET);
            if !categorical_x {
                let _ = write!(
                    s,
                    "<line class=\"grid\" x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\"/>",
                    px(x),
                    px(t),
                    px(b)
                );
            }
            // A category's name is cut to fit its band; hovering shows it whole.
            let max_chars = ((band / 6.5).floor() as usize).max(3);
            let shown = shorten(&label, max_chars);
            let _ = write!(
                s,
                "<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}<title>{}</title></text>",
                px(x),
                px(b + 14.0),
                escape(&shown),
                escape(&label)
            );
        }
        for (f, label) in self.y.tick_marks() {
            let y = b - INSET - f * (b - t - 2.0 * INSET);
            let _ = write!(
                s,
                "<line class=\"grid\" x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\"/>",
                px(l),
                px(y),
                px(r)
            );
            let _ = write!(
                s,
                "<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
                px(l - 5.0),
                px(y + 4.0),
                escape(&shorten(&label, 9))
            );
        }
        let _ = write!(
            s,
            "<text class=\"axis-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            px((l + r) / 2.0),
            px(self.height - 8.0),
            escape(&self.x_label)
        );
        let (yx, yy) = (14.0, (t + b) / 2.0);
        let _ = write!(
            s,
            "<text class=\"axis-label\" x=\"{0}\" y=\"{1}\" text-anchor=\"middle\" transform=\"rotate(-90 {0} {1})\">{2}</text>",
            px(yx),
            px(yy),
            escape(&self.y_label)
        );
        for m in &self.marks {
            self.mark(&mut s, m);
        }
        self.write_legend(&mut s);
        s.push_str("</svg>");
        s
    }

    fn mark(&self, s: &mut String, m: &Mark) {
        match m {
            Mark::Point(p) => {
                if let Some((x, y)) = self.place(p.x, p.y) {
                    let _ = write!(
                        s,
                        "<circle class=\"{}\" cx=\"{}\" cy=\"{}\" r=\"{}\"{}><title>{}</title></circle>",
                        escape(&p.class),
                        px(x),
                        px(y),
                        px(p.radius),
                        data_attrs(&p.data),
                        escape(&p.title)
                    );
                }
            }
            Mark::Line {
                points,
                class,
                steps,
            } => {
                // Runs of placeable points, each drawn as one polyline.
                let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
                for (x, y) in points {
                    match self.place(*x, *y) {
                        Some(p) => {
                            let run = runs.last_mut().expect("there is always a run");
                            if *steps {
                                if let Some(&(_, prev_y)) = run.last().filter(|q| q.1 != p.1) {
                                    run.push((p.0, prev_y));
                                }
                            }
                            run.push(p);
                        }
                        None => runs.push(Vec::new()),
                    }
                }
                for run in runs.iter().filter(|r| r.len() >= 2) {
                    let pts: Vec<String> = run
                        .iter()
                        .map(|(x, y)| format!("{},{}", px(*x), px(*y)))
                        .collect();
                    let _ = write!(
                        s,
                        "<polyline class=\"{}\" points=\"{}\"/>",
                        escape(class),
                        pts.join(" ")
                    );
                }
            }
            Mark::Rug {
                x,
                class,
                data,
                title,
            } => {
                let Some(fx) = self.x.fraction(*x) else {
                    return;
                };
                let (l, _, r, b) = self.area();
                let xp = l + INSET + fx * (r - l - 2.0 * INSET);
                if xp.is_finite() {
                    let _ = write!(
                        s,
                        "<line class=\"{}\" x1=\"{2}\" y1=\"{3}\" x2=\"{2}\" y2=\"{4}\"{1}><title>{5}</title></line>",
                        escape(class),
                        data_attrs(data),
                        px(xp),
                        px(b - 7.0),
                        px(b),
                        escape(title)
                    );
                }
            }
        }
    }

    /// The legend, one row above the plotting area, entries laid out by their text's length.
    fn write_legend(&self, s: &mut String) {
        let mut x = LEFT;
        for (label, class) in &self.legend {
            let _ = write!(
                s,
                "<circle class=\"{}\" cx=\"{}\" cy=\"{}\" r=\"4\"/><text class=\"legend\" x=\"{}\" y=\"{}\">{}</text>",
                escape(class),
                px(x + 4.0),
                px(TOP + 6.0),
                px(x + 12.0),
                px(TOP + 10.0),
                escape(label)
            );
            x += 24.0 + 6.5 * label.chars().count() as f64;
        }
    }
}

/// `data-` attributes as SVG text, each with a leading space.
fn data_attrs(data: &[(&'static str, String)]) -> String {
    data.iter()
        .map(|(k, v)| format!(" data-{k}=\"{}\"", escape(v)))
        .collect()
}

/// `text` cut to `max` characters, with an ellipsis when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// One layer of the funnel.
#[derive(Clone, Debug)]
pub(crate) struct FunnelBar {
    /// Its 1-based number.
    pub(crate) layer: usize,
    /// Its short name (the strategy).
    pub(crate) label: String,
    /// What hovering it shows (the strategy with its arguments, the filter).
    pub(crate) title: String,
    /// Trials evaluated.
    pub(crate) evaluated: usize,
    /// Trials failed.
    pub(crate) failed: usize,
    /// Candidates kept, `None` before the layer's end.
    pub(crate) kept: Option<usize>,
}

/// The funnel of a run: one row per layer, a bar as wide as its evaluated trials with a
/// narrower bar for those it kept inside, centred so the rows narrow layer by layer; a red
/// strip under each bar for its failures. Bars are scaled to the widest layer.
pub(crate) fn funnel(bars: &[FunnelBar], width: f64) -> String {
    let row = 34.0;
    let (label_w, note_w) = (120.0, 210.0);
    let height = TOP + LEGEND_ROW + row * bars.len() as f64 + 8.0;
    let widest = bars
        .iter()
        .map(|b| b.evaluated.max(b.kept.unwrap_or(0)))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let (left, right) = (label_w, width - note_w);
    let centre = (left + right) / 2.0;
    let scale = (right - left) / widest;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"chart funnel\" viewBox=\"0 0 {0} {1}\" width=\"{0}\" height=\"{1}\" role=\"img\" aria-label=\"the funnel of the layers\">",
        px(width),
        px(height)
    );
    let legend = Chart {
        legend: vec![
            ("evaluated".into(), "bar-evaluated".into()),
            ("kept".into(), "bar-kept".into()),
            ("failed".into(), "bar-failed".into()),
        ],
        ..Chart::new(
            width,
            height,
            Axis::Categories(Vec::new()),
            Axis::Categories(Vec::new()),
        )
    };
    legend.write_legend(&mut s);
    for (i, b) in bars.iter().enumerate() {
        let y = TOP + LEGEND_ROW + row * i as f64;
        let _ = write!(
            s,
            "<g class=\"funnel-row\" data-layer=\"{}\"><title>{}</title>",
            b.layer,
            escape(&b.title)
        );
        let _ = write!(
            s,
            "<text class=\"tick\" x=\"4\" y=\"{}\">{}</text>",
            px(y + 17.0),
            escape(&shorten(&format!("{} {}", b.layer, b.label), 17))
        );
        let rect = |s: &mut String, class: &str, n: usize, y: f64, h: f64| {
            let w = n as f64 * scale;
            if w > 0.0 {
                let _ = write!(
                    s,
                    "<rect class=\"{class}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>",
                    px(centre - w / 2.0),
                    px(y),
                    px(w),
                    px(h)
                );
            }
        };
        rect(&mut s, "bar-evaluated", b.evaluated, y + 4.0, 22.0);
        rect(&mut s, "bar-kept", b.kept.unwrap_or(0), y + 4.0, 22.0);
        rect(&mut s, "bar-failed", b.failed, y + 27.0, 4.0);
        let kept = b
            .kept
            .map_or("not finished".to_string(), |k| format!("{k} kept"));
        let failed = if b.failed > 0 {
            format!(", {} failed", b.failed)
        } else {
            String::new()
        };
        let _ = write!(
            s,
            "<text class=\"tick\" x=\"{}\" y=\"{}\">{} evaluated{failed} → {}</text></g>",
            px(right + 10.0),
            px(y + 17.0),
            b.evaluated,
            escape(&kept)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<b>&"x"'y'</b>"#),
            "&lt;b&gt;&amp;&quot;x&quot;&#39;y&#39;&lt;/b&gt;"
        );
        assert_eq!(escape("plain → text"), "plain → text");
    }

    #[test]
    fn nice_steps_are_one_two_five() {
        assert_eq!(nice_step(0.13), 0.2);
        assert_eq!(nice_step(0.2), 0.2);
        assert_eq!(nice_step(3.0), 5.0);
        assert_eq!(nice_step(7.0), 10.0);
        assert_eq!(nice_step(1000.0), 1000.0);
        assert_eq!(nice_step(f64::NAN), 1.0);
    }

    #[test]
    fn linear_ticks_cover_the_values_in_whole_steps() {
        let (lo, hi, step, ticks) = linear_ticks(0.13, 0.97, 5, 0.0);
        assert_eq!(step, 0.2);
        assert!((lo - 0.0).abs() < 1e-12 && (hi - 1.0).abs() < 1e-12);
        assert_eq!(ticks.len(), 6);
        let labels: Vec<String> = ticks.iter().map(|t| linear_label(*t, step)).collect();
        assert_eq!(labels, ["0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        // Trial numbers: never a step below one.
        let (_, _, step, ticks) = linear_ticks(0.0, 3.0, 5, 1.0);
        assert_eq!(step, 1.0);
        assert_eq!(ticks, [0.0, 1.0, 2.0, 3.0]);
        // A single value gets a domain around it.
        let (lo, hi, _, _) = linear_ticks(2.0, 2.0, 5, 0.0);
        assert!(lo < 2.0 && hi > 2.0);
        let (lo, hi, _, _) = linear_ticks(0.0, 0.0, 5, 0.0);
        assert!(lo < 0.0 && hi > 0.0);
    }

    #[test]
    fn log_axis_only_for_positive_values_spanning_more_than_twenty() {
        assert!(wants_log(&[1e-4, 1e-2]));
        assert!(!wants_log(&[1.0, 20.0]));
        assert!(wants_log(&[1.0, 20.5, f64::NAN]));
        assert!(!wants_log(&[0.0, 1e-4, 1.0]));
        assert!(!wants_log(&[-1.0, 100.0]));
        assert!(!wants_log(&[]));
        assert!(Axis::numeric(&[1e-4, 3e-2], true, 0.0).is_log());
        assert!(!Axis::numeric(&[1e-4, 3e-2], false, 0.0).is_log());
        let (lo, hi, ticks) = log_ticks(3e-4, 2e-2);
        assert_eq!((lo, hi), (1e-4, 1e-1));
        assert_eq!(ticks.first(), Some(&1e-4));
        assert_eq!(ticks.last(), Some(&1e-1));
        // Two decades or fewer: 1, 2 and 5 of each.
        assert_eq!(
            log_ticks(1.0, 50.0).2,
            [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0]
        );
        // Many decades: every other power of ten.
        assert_eq!(log_ticks(1.0, 1e10).2.len(), 6);
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(compact(0.0), "0");
        assert_eq!(compact(1e-4), "1e-4");
        assert_eq!(compact(2.5e-5), "2.5e-5");
        assert_eq!(compact(0.001), "0.001");
        assert_eq!(compact(0.25), "0.25");
        assert_eq!(compact(12.0), "12");
        assert_eq!(compact(25_000.0), "25k");
        assert_eq!(compact(1_500_000.0), "1.5M");
        assert_eq!(linear_label(-0.0, 0.5), "0");
        assert_eq!(linear_label(0.05, 0.05), "0.05");
    }

    #[test]
    fn values_that_cannot_be_placed_are_left_out() {
        let axis = Axis::numeric(&[1.0, f64::NAN, 2.0, f64::INFINITY], true, 0.0);
        assert!(axis.fraction(f64::NAN).is_none());
        assert!(axis.fraction(f64::NEG_INFINITY).is_none());
        let log = Axis::numeric(&[1.0, 100.0], true, 0.0);
        assert!(log.fraction(0.0).is_none() && log.fraction(-1.0).is_none());
        let mut chart = Chart::new(300.0, 200.0, axis.clone(), axis);
        for (x, y) in [
            (1.0, 2.0),
            (f64::NAN, 1.0),
            (1.5, f64::INFINITY),
            (2.0, 1.0),
        ] {
            chart.marks.push(Mark::Point(Point {
                x,
                y,
                class: "pt".into(),
                radius: 3.0,
                data: vec![("seq", "1".into())],
                title: "a <point>".into(),
            }));
        }
        chart.marks.push(Mark::Line {
            points: vec![(1.0, 2.0), (f64::NAN, 0.0), (1.5, 1.5), (2.0, 1.0)],
            class: "line".into(),
            steps: true,
        });
        chart.marks.push(Mark::Rug {
            x: f64::NAN,
            class: "rug".into(),
            data: Vec::new(),
            title: String::new(),
        });
        let svg = chart.to_svg("test");
        assert_eq!(svg.matches("class=\"pt\"").count(), 2, "{svg}");
        // The line is cut at the NaN: one polyline, from the two points after it.
        assert_eq!(svg.matches("<polyline").count(), 1, "{svg}");
        assert_eq!(svg.matches("class=\"rug\"").count(), 0, "{svg}");
        let lower = svg.to_lowercase();
        assert!(!lower.contains("nan") && !lower.contains("inf"), "{svg}");
        assert!(svg.contains("a &lt;point&gt;"));
    }

    #[test]
    fn categories_sit_in_the_middle_of_their_bands() {
        let axis = Axis::Categories(vec!["a".into(), "b".into()]);
        assert_eq!(axis.fraction(0.0), Some(0.25));
        assert_eq!(axis.fraction(1.0), Some(0.75));
        let ticks = axis.tick_marks();
        assert_eq!(ticks[1], (0.75, "b".to_string()));
    }

    #[test]
    fn the_funnel_narrows_with_the_kept_counts() {
        let bars = [
            FunnelBar {
                layer: 1,
                label: "random".into(),
                title: "random(samples = 12)".into(),
                evaluated: 12,
                failed: 2,
                kept: Some(3),
            },
            FunnelBar {
                layer: 2,
                label: "final".into(),
                title: "final(steps = 2)".into(),
                evaluated: 3,
                failed: 0,
                kept: None,
            },
        ];
        let svg = funnel(&bars, 640.0);
        assert_eq!(svg.matches("class=\"funnel-row\"").count(), 2);
        assert_eq!(svg.matches("<rect class=\"bar-evaluated\"").count(), 2);
        // The second layer has no kept bar yet and no failures.
        assert_eq!(svg.matches("<rect class=\"bar-kept\"").count(), 1);
        assert_eq!(svg.matches("<rect class=\"bar-failed\"").count(), 1);
        assert!(svg.contains("12 evaluated, 2 failed → 3 kept"));
        assert!(svg.contains("3 evaluated → not finished"));
    }
}
