//! Rendering diagnostics: miette's graphical report for people, one JSON object per
//! diagnostic for editors and scripts. The only place that joins diagnostics with text.

use std::fmt;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode};
use serde_json::json;

use crate::diag::{Diagnostic, Severity};
use crate::source::{floor_char_boundary, SourceMap};

/// A diagnostic joined with its file, as miette wants it.
struct Report<'a> {
    diag: &'a Diagnostic,
    source: NamedSource<String>,
    /// Whether the source lines are shown under the message (see [`human`]).
    snippet: bool,
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(format!("nas::{}", self.diag.code)))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diag.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diag
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.snippet.then_some(&self.source as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if !self.snippet {
            return None;
        }
        let len = self.source.inner().len();
        let clamp = move |s: usize, e: usize| {
            let s = s.min(len);
            (s, e.clamp(s, len) - s)
        };
        let (s, l) = clamp(self.diag.primary.span.start, self.diag.primary.span.end);
        let primary =
            LabeledSpan::new_primary_with_span(Some(self.diag.primary.message.clone()), (s, l));
        let rest = self.diag.secondary.iter().map(move |lab| {
            let (s, l) = clamp(lab.span.start, lab.span.end);
            LabeledSpan::new_with_span(Some(lab.message.clone()), (s, l))
        });
        Some(Box::new(std::iter::once(primary).chain(rest)))
    }
}

/// Renders `diag` as miette's graphical report, without colour, at `width` columns.
///
/// A label further right on its line than miette can pad to (it pads with a formatting
/// width, which stops at 65,535 columns) is shown as its file, line and column under the
/// message instead of under the source line.
pub fn human(diag: &Diagnostic, sources: &SourceMap, width: usize, color: bool) -> String {
    let file = sources.get(diag.primary.span.file);
    let labels = || std::iter::once(&diag.primary).chain(&diag.secondary);
    let snippet = labels().all(|l| {
        let text = &sources.get(l.span.file).text;
        let line_start = text[..floor_char_boundary(text, l.span.start)]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let end = floor_char_boundary(text, l.span.end.max(l.span.start));
        // Measured in bytes (at least the characters) with room for tabs, which miette
        // widens to several columns.
        text.get(line_start..end)
            .map_or(0, |t| t.len() + 8 * t.matches('\t').count())
            < SNIPPET_COLUMNS
    });
    let report = Report {
        diag,
        source: NamedSource::new(file.name.clone(), file.text.clone()),
        snippet,
    };
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(width)
        .with_links(false);
    let mut out = String::new();
    if handler.render_report(&mut out, &report).is_err() {
        out = format!("{}: nas::{}: {}\n", file.name, diag.code, diag.message);
    }
    if !snippet {
        for l in labels() {
            let (line, col) = sources.line_col(l.span.file, l.span.start);
            let name = &sources.get(l.span.file).name;
            out.push_str(&format!("  at {name}:{line}:{col}: {}\n", l.message));
        }
    }
    out
}

/// How far right on its line a label may end for the source line to be shown with it.
const SNIPPET_COLUMNS: usize = 30_000;

/// One diagnostic as a JSON object: file, byte and line/column ranges, severity, code,
/// message, labels and help.
pub fn json(diag: &Diagnostic, sources: &SourceMap) -> serde_json::Value {
    let label = |l: &crate::diag::Label, primary: bool| {
        let (line, col) = sources.line_col(l.span.file, l.span.start);
        let (end_line, end_col) = sources.line_col(l.span.file, l.span.end);
        json!({
            "file": sources.get(l.span.file).name,
            "message": l.message,
            "primary": primary,
            "span": {
                "start": l.span.start,
                "end": l.span.end,
                "line": line,
                "column": col,
                "end_line": end_line,
                "end_column": end_col,
            },
        })
    };
    let primary = label(&diag.primary, true);
    let mut labels = vec![primary.clone()];
    labels.extend(diag.secondary.iter().map(|l| label(l, false)));
    json!({
        "file": sources.get(diag.primary.span.file).name,
        "severity": match diag.severity { Severity::Error => "error", Severity::Warning => "warning" },
        "code": format!("nas::{}", diag.code),
        "message": diag.message,
        "span": primary["span"],
        "labels": labels,
        "help": diag.help,
    })
}
