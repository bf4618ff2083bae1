//! `nasc check FILE`: diagnostics, then a summary of every space.

use std::io::{IsTerminal, Read, Write};
use std::path::Path;

use super::fail::Failure;
use super::{ColorChoice, MessageFormat};
use crate::diag::Sink;
use crate::space::summary::{format_count, Size, Summary};
use crate::{check, render, space};

/// Everything `nasc check` computes for one file.
pub struct CheckOutput {
    /// The loaded files, for rendering.
    pub sources: crate::source::SourceMap,
    /// The diagnostics, sorted.
    pub diagnostics: Vec<crate::diag::Diagnostic>,
    /// The summaries of the spaces without errors.
    pub summaries: Vec<Summary>,
}

/// Checks `text` named `name`, resolving imports in `dir`.
pub fn check_source(name: &str, text: String, dir: Option<std::path::PathBuf>) -> CheckOutput {
    let mut sink = Sink::default();
    let program = check::load(name, text, dir, &mut sink);
    let checked = check::check(program, &mut sink);
    let summaries = space::summary::analyze(&checked, &mut sink);
    CheckOutput {
        sources: checked.program.sources,
        diagnostics: sink.into_sorted(),
        summaries,
    }
}

/// Renders the summary of a space as text.
pub fn render_summary(s: &Summary, file: &str) -> String {
    let mut out = format!("space {} ({file})\n", s.name);
    let width = s
        .params
        .iter()
        .chain(s.inline.iter())
        .map(|h| h.path.len())
        .max()
        .unwrap_or(0)
        .max(12);
    if !s.params.is_empty() {
        out.push_str(&format!("\nhyperparameters ({})\n", s.params.len()));
        for h in &s.params {
            out.push_str(&format!(
                "  {:<width$}  {}  [{}]\n",
                h.path, h.domain, h.size
            ));
        }
    }
    if !s.inline.is_empty() {
        out.push_str(&format!(
            "\ninline hyperparameters ({}; `[i]` marks one per repetition)\n",
            s.inline.len()
        ));
        for h in &s.inline {
            out.push_str(&format!(
                "  {:<width$}  {}  [{}]\n",
                h.path, h.domain, h.size
            ));
        }
    }
    if !s.lets.is_empty() {
        out.push_str(&format!("\ndependent values ({})\n", s.lets.len()));
        for (n, t) in &s.lets {
            out.push_str(&format!("  {n} = {t}\n"));
        }
    }
    if !s.constraints.is_empty() {
        out.push_str(&format!("\nconstraints ({})\n", s.constraints.len()));
        for (t, note) in &s.constraints {
            out.push_str(&format!("  require {t}  ({note})\n"));
        }
    }
    out.push_str("\narchitectures: ");
    out.push_str(&size_text(s));
    out.push('\n');
    out
}

/// The size of a space in words: `25,008`, `infinite (continuous: lr); discrete part: 252`,
/// with a note when constraints are left to sampling.
pub fn size_text(s: &Summary) -> String {
    let bound = if s.uncounted > 0 { "at most " } else { "" };
    let mut out = match &s.size {
        Size::Finite(n) => format!("{bound}{}", format_count(n)),
        Size::Infinite {
            continuous,
            discrete,
        } => format!(
            "infinite (continuous: {}); discrete part: {bound}{}",
            continuous.join(", "),
            format_count(discrete)
        ),
        Size::Unavailable(why) => format!("unknown ({why})"),
    };
    if s.uncounted > 0 && !matches!(s.size, Size::Unavailable(_)) {
        let n = s.uncounted;
        out.push_str(&format!(
            " ({n} constraint{} checked when sampling)",
            if n == 1 { "" } else { "s" }
        ));
    }
    out
}

/// Reads the file a command names (`-` is standard input): its display name, its text,
/// and the folder its imports resolve against.
pub fn read_input(path: &Path) -> Result<(String, String, Option<std::path::PathBuf>), Failure> {
    if path == Path::new("-") {
        let mut text = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut text) {
            return Err(Failure::read(path, &e));
        }
        return Ok(("<stdin>".to_string(), text, std::env::current_dir().ok()));
    }
    match std::fs::read_to_string(path) {
        Ok(t) => Ok((
            path.display().to_string(),
            t,
            Some(
                path.parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .map_or_else(|| Path::new(".").to_path_buf(), Path::to_path_buf),
            ),
        )),
        Err(e) => Err(Failure::read(path, &e)),
    }
}

/// Prints diagnostics: as JSON lines on stdout, or rendered for people on stderr with a
/// closing count.
pub fn emit(
    diagnostics: &[crate::diag::Diagnostic],
    sources: &crate::source::SourceMap,
    format: MessageFormat,
    color: ColorChoice,
) {
    match format {
        MessageFormat::Json => {
            let stdout = std::io::stdout();
            let mut stdout = stdout.lock();
            for d in diagnostics {
                let _ = writeln!(stdout, "{}", render::json(d, sources));
            }
        }
        MessageFormat::Human => {
            let use_color = match color {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => std::io::stderr().is_terminal(),
            };
            for d in diagnostics {
                eprint!("{}", render::human(d, sources, 100, use_color));
            }
            let errors = diagnostics.iter().filter(|d| d.is_error()).count();
            let warnings = diagnostics.len() - errors;
            if errors > 0 || warnings > 0 {
                eprintln!(
                    "{errors} error{}, {warnings} warning{}",
                    if errors == 1 { "" } else { "s" },
                    if warnings == 1 { "" } else { "s" }
                );
            }
        }
    }
}

/// Runs `nasc check`.
pub fn run(path: &Path, format: MessageFormat, color: ColorChoice) -> i32 {
    let (name, text, dir) = match read_input(path) {
        Ok(x) => x,
        Err(f) => return f.print(format, color),
    };
    let out = check_source(&name, text, dir);
    let has_errors = out.diagnostics.iter().any(|d| d.is_error());
    emit(&out.diagnostics, &out.sources, format, color);
    if format == MessageFormat::Human {
        let stdout = std::io::stdout();
        let mut stdout = stdout.lock();
        for s in &out.summaries {
            let _ = write!(stdout, "{}", render_summary(s, &name));
        }
        // A file of functions alone (or an empty one) checks, but has nothing to show.
        if out.summaries.is_empty() && !has_errors {
            let _ = writeln!(stdout, "{name}: no space in this file; it checks clean");
        }
    }
    i32::from(has_errors)
}
