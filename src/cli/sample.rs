//! `nasc sample`, `nasc enumerate` and `nasc describe`: concrete architectures of a space.

use std::fmt::Write as _;

use super::fail::Failure;
use crate::check::{self, Checked};
use crate::diag::{Code, Diagnostic, Sink};
use crate::interp::build::BuildError;
use crate::interp::strategy::{self, EnumError, RandomSearch, Rejections, Replay, SampleError};
use crate::interp::{Arch, Interp, Outcome};
use crate::source::SourceMap;
use crate::space;
use crate::space::summary::format_count;

/// What to do with the space.
#[derive(Clone, Debug)]
pub enum Request {
    /// Draw `n` architectures.
    Sample {
        /// How many.
        n: usize,
        /// The seed of the generator.
        seed: u64,
        /// Uniform over architectures (finite spaces) rather than per decision.
        uniform: bool,
        /// For `uniform`: the most architectures to enumerate.
        limit: u64,
        /// Rejections in a row before giving up.
        max_attempts: u64,
    },
    /// List every architecture.
    Enumerate {
        /// Refuse spaces with more architectures than this.
        limit: u64,
        /// Print only the count.
        count_only: bool,
    },
    /// Validate architectures given as JSON text: one JSON value, or one per line.
    Describe {
        /// The architecture file's name, for messages.
        file: String,
        /// Its text.
        json: String,
        /// List the open hyperparameters of a partial assignment instead of failing.
        partial: bool,
    },
}

/// What a request produced.
pub struct RunOutput {
    /// The loaded files, for rendering diagnostics.
    pub sources: SourceMap,
    /// Diagnostics: the checker's, then the interpreter's.
    pub diagnostics: Vec<Diagnostic>,
    /// What goes to standard output.
    pub stdout: String,
    /// A failure that concerns no source line (exit code 2): no such space, an
    /// architecture file that is not JSON, an output that cannot be written.
    pub failure: Option<Failure>,
    /// Where `nasc sample` writes its architectures as it draws them, when set (they are
    /// then not kept in `stdout`), so that memory stays flat and an interrupted run keeps
    /// what it printed.
    pub live: Option<Box<dyn std::io::Write>>,
    /// The reader of `live` has gone (a closed pipe, as with `| head`): drawing stopped.
    pub closed: bool,
    /// The checker's summary of every space that checked cleanly: sizes, for `enumerate`.
    pub summaries: Vec<space::summary::Summary>,
}

impl RunOutput {
    /// Writes `text` to standard output: to `live` at once, else into `stdout`. `false`
    /// once nothing more can be written (the reader has gone, or writing failed, which is
    /// a usage error).
    fn put(&mut self, text: &str) -> bool {
        let Some(w) = &mut self.live else {
            self.stdout.push_str(text);
            return true;
        };
        if self.closed {
            return false;
        }
        match w.write_all(text.as_bytes()).and_then(|()| w.flush()) {
            Ok(()) => true,
            Err(e) => {
                self.closed = true;
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    self.failure = Some(Failure::new(
                        super::fail::FILE,
                        format!("cannot write the output: {e}"),
                        "what was written before stays; check the disk or the pipe the \
                         output goes to",
                    ));
                }
                false
            }
        }
    }
}

/// Runs `request` on the space `space` (the first one when `None`) of the file `name`.
/// With `live`, what it prints goes there as it is made (see [`RunOutput::live`]), else
/// into the output's `stdout`.
pub fn run_source(
    name: &str,
    text: String,
    dir: Option<std::path::PathBuf>,
    space: Option<&str>,
    request: &Request,
    json: bool,
    mut live: Option<Box<dyn std::io::Write>>,
) -> RunOutput {
    with_checked(name, text, dir, |checked, sink, out| {
        out.live = live.take();
        run_checked(checked, space, request, json, sink, out)
    })
    .0
}

/// Loads and checks `text` (imports resolve against `dir`), then runs `f` on the checked
/// program when the checker found no error. The output carries the diagnostics of both,
/// sorted, and the sources to render them with; `T` is what `f` returned (its default
/// when `f` did not run).
pub(crate) fn with_checked<T: Default>(
    name: &str,
    text: String,
    dir: Option<std::path::PathBuf>,
    f: impl FnOnce(&Checked, &mut Sink, &mut RunOutput) -> T,
) -> (RunOutput, T) {
    let mut sink = Sink::default();
    let program = check::load(name, text, dir, &mut sink);
    let checked = check::check(program, &mut sink);
    let summaries = space::summary::analyze(&checked, &mut sink);
    let mut out = RunOutput {
        sources: SourceMap::default(),
        diagnostics: Vec::new(),
        stdout: String::new(),
        failure: None,
        live: None,
        closed: false,
        summaries,
    };
    let result = if sink.has_errors() {
        T::default()
    } else {
        f(&checked, &mut sink, &mut out)
    };
    out.diagnostics = sink.into_sorted();
    out.sources = checked.program.sources;
    (out, result)
}

/// The space named `space` (the first when `None`) with its interpreter; `None` after
/// reporting why there is none (a usage error, or a space that cannot be prepared).
pub(crate) fn open_space<'a>(
    checked: &'a Checked,
    space: Option<&str>,
    sink: &mut Sink,
    out: &mut RunOutput,
) -> Option<(&'a crate::check::SpaceInfo, Interp<'a>)> {
    let chosen = match space {
        Some(n) => checked.spaces.iter().find(|s| s.name == n),
        None => checked.spaces.first(),
    };
    let Some(info) = chosen else {
        let names: Vec<&str> = checked.spaces.iter().map(|s| s.name.as_str()).collect();
        out.failure = Some(match space {
            Some(n) => Failure::usage(
                format!("no space `{n}` in this file"),
                format!("the spaces are {}", names.join(", ")),
            ),
            None => Failure::usage(
                "the file defines no space",
                "give a file with a `space NAME { ... }`",
            ),
        });
        return None;
    };
    match Interp::new(checked, info) {
        Ok(i) => Some((info, i)),
        Err(e) => {
            sink.push(unbuildable(&e));
            None
        }
    }
}

fn run_checked(
    checked: &Checked,
    space: Option<&str>,
    request: &Request,
    json: bool,
    sink: &mut Sink,
    out: &mut RunOutput,
) {
    let Some((info, interp)) = open_space(checked, space, sink, out) else {
        return;
    };
    match request {
        Request::Sample {
            n,
            seed,
            uniform,
            limit,
            max_attempts,
        } => {
            let mut rng = strategy::rng(*seed);
            if *uniform && refused(out, info, *limit, sink) {
                return;
            }
            if *uniform {
                match strategy::uniform_over_architectures(&interp, &mut rng, *n, *limit) {
                    Ok((archs, stats)) if archs.is_empty() && *n > 0 => {
                        sink.push(none_accepted(&stats, info));
                    }
                    Ok((archs, stats)) => {
                        print_archs(&archs, json, out);
                        if !json {
                            out.put(&uniform_line(&stats, archs.len(), *n));
                        }
                    }
                    Err(e) => sink.push(enum_error(&e, info, "sample --uniform", out)),
                }
                return;
            }
            // Each architecture is printed as soon as it is drawn.
            let mut drawn = 0;
            let result = strategy::sample_each(
                &interp,
                &mut RandomSearch,
                &mut rng,
                *n,
                *max_attempts,
                &mut |a| {
                    drawn += 1;
                    out.put(&arch_text(&a, (drawn, *n), json))
                },
            );
            match result {
                Ok(_) if out.closed => {}
                Ok(stats) => {
                    if !json {
                        out.put(&rejection_line(&stats, drawn));
                    }
                }
                Err(SampleError::Build(e)) => sink.push(unbuildable(&e)),
                Err(SampleError::AllRejected(stats)) => sink.push(all_rejected(&stats, info)),
            }
        }
        Request::Enumerate { limit, count_only } => {
            if refused(out, info, *limit, sink) {
                return;
            }
            // When the count says the walk cannot pass the limit, each architecture is
            // printed as it is found; otherwise the walk may still refuse the space, and
            // they are held until it is done.
            let stream = bound(out, info).is_some_and(|(n, _)| n <= (*limit).into());
            let mut found = 0u64;
            let mut held = String::new();
            let result = strategy::enumerate_until(&interp, *limit, |a| {
                found += 1;
                if *count_only {
                    return true;
                }
                let line = match json {
                    true => json_line(&a),
                    false => format!("{}  {}\n", a.hash_hex(), compact(&a)),
                };
                match stream {
                    true => out.put(&line),
                    false => {
                        held.push_str(&line);
                        true
                    }
                }
            });
            match result {
                Ok(_) if out.closed => {}
                Ok(stats) => {
                    let mut text = held;
                    if !json {
                        let _ = write!(
                            text,
                            "{} architecture{}",
                            format_count(&found.into()),
                            if found == 1 { "" } else { "s" }
                        );
                        if stats.rejected > 0 {
                            let _ = write!(
                                text,
                                " ({} assignments rejected by constraints)",
                                format_count(&stats.rejected.into())
                            );
                        }
                        text.push('\n');
                    }
                    out.put(&text);
                }
                Err(e) => sink.push(enum_error(&e, info, "enumerate", out)),
            }
        }
        Request::Describe {
            file,
            json: text,
            partial,
        } => describe(&interp, info, file, text, *partial, json, sink, out),
    }
}

#[allow(clippy::too_many_arguments)]
fn describe(
    interp: &Interp,
    info: &crate::check::SpaceInfo,
    file: &str,
    text: &str,
    partial: bool,
    json: bool,
    sink: &mut Sink,
    out: &mut RunOutput,
) {
    let (total, archs) = match read_archs(file, text) {
        Ok(a) => a,
        Err(e) => {
            out.failure = Some(e);
            return;
        }
    };
    let mut printed = false;
    for (k, arch) in archs.enumerate() {
        let (line, value) = match arch {
            Ok(a) => a,
            Err(e) => {
                out.failure = Some(e);
                return;
            }
        };
        // Several architectures are told apart by the line each starts on.
        let name = match total {
            1 => file.to_string(),
            _ => format!("{file}:{line}"),
        };
        // What one architecture prints is made in `stdout`, then sent on at once.
        let mark = out.stdout.len();
        let live = out.live.take();
        describe_one(
            interp,
            info,
            &name,
            &value,
            (k + 1, total),
            partial,
            json,
            sink,
            out,
        );
        out.live = live;
        if out.failure.is_some() {
            return;
        }
        let text = out.stdout.split_off(mark);
        if !text.is_empty() {
            // A listing for people: a blank line between two architectures.
            let sep = if printed && !json { "\n" } else { "" };
            if !out.put(&format!("{sep}{text}")) {
                return;
            }
            printed = true;
        }
    }
}

/// The architectures of an architecture file: one JSON value, or several one after
/// another (JSON lines, as `nasc sample --format json` writes them). Their number, and
/// the values one at a time, each with the line it starts on (a file of many is never
/// held parsed all at once). A failure when the text is not JSON or holds nothing.
pub(crate) fn read_archs<'t>(
    file: &'t str,
    text: &'t str,
) -> Result<(usize, ArchValues<'t>), Failure> {
    // The syntax of the whole file is checked, and its values counted, before any is
    // built.
    let mut n = 0;
    for v in serde_json::Deserializer::from_str(text).into_iter::<serde::de::IgnoredAny>() {
        v.map_err(|e| not_json(file, &e))?;
        n += 1;
    }
    if n == 0 {
        return Err(Failure::usage(
            format!("`{file}` holds no architecture (it is empty)"),
            "give a file written by `nasc sample --format json`, or an object of \
             hyperparameter values",
        ));
    }
    let values = ArchValues {
        file,
        text,
        stream: serde_json::Deserializer::from_str(text).into_iter(),
        at: 0,
        line: 1,
    };
    Ok((n, values))
}

fn not_json(file: &str, e: &serde_json::Error) -> Failure {
    Failure::usage(
        format!("`{file}` is not JSON: {e}"),
        "an architecture file is JSON: one object, or one per line as `nasc sample --format \
         json` writes them",
    )
}

/// The values of an architecture file, parsed one at a time (see [`read_archs`]).
pub(crate) struct ArchValues<'t> {
    file: &'t str,
    text: &'t str,
    stream: serde_json::StreamDeserializer<'t, serde_json::de::StrRead<'t>, serde_json::Value>,
    /// Where the last value started, and its line.
    at: usize,
    line: usize,
}

impl Iterator for ArchValues<'_> {
    type Item = Result<(usize, serde_json::Value), Failure>;

    fn next(&mut self) -> Option<Self::Item> {
        let from = self.stream.byte_offset();
        let v = match self.stream.next()? {
            Ok(v) => v,
            Err(e) => return Some(Err(not_json(self.file, &e))),
        };
        let start = self.text[from..]
            .find(|c: char| !c.is_whitespace())
            .map_or(from, |s| from + s);
        self.line += self.text[self.at..start].matches('\n').count();
        self.at = start;
        Some(Ok((self.line, v)))
    }
}

/// Describes the architecture `value` of `file`, number `index.0` of `index.1` in it.
#[allow(clippy::too_many_arguments)]
fn describe_one(
    interp: &Interp,
    info: &crate::check::SpaceInfo,
    file: &str,
    value: &serde_json::Value,
    index: (usize, usize),
    partial: bool,
    json: bool,
    sink: &mut Sink,
    out: &mut RunOutput,
) {
    let Some(values) = parse_values(info, file, value, sink, out) else {
        return;
    };
    if partial {
        let mut replay = Replay::new(&values);
        match interp.frontier(&mut replay) {
            Err(e) if replay.failed.is_some() => {
                sink.push(out_of_domain(&e, file));
                return;
            }
            Err(e) => {
                sink.push(unbuildable(&e));
                return;
            }
            Ok(f) if f.arch.is_none() => {
                if let Some(r) = &f.rejected {
                    sink.push(violated(r, file));
                    return;
                }
                let given = replay.unused();
                let (unknown, unreached): (Vec<&str>, Vec<&str>) =
                    given.into_iter().partition(|k| !could_be(out, info, k));
                print_frontier(info, &f, &unreached, &unknown, json, out);
                return;
            }
            // Complete: described as a whole architecture below.
            Ok(_) => {}
        }
    }
    if let Some(arch) = build_values(interp, info, file, &values, sink)
        .filter(|a| hash_agrees(value, a, info, file, sink))
    {
        // `describe` puts the blank line between two listings itself.
        out.stdout.push_str(&match json {
            true => json_line(&arch),
            false => render_arch(&arch, index.0, index.1),
        });
    }
}

/// The hyperparameter values of an architecture read from `file`: its `assignment`
/// object, or the whole value when it is a plain object of values. `None` after reporting
/// why not.
pub(crate) fn parse_values(
    info: &crate::check::SpaceInfo,
    file: &str,
    parsed: &serde_json::Value,
    sink: &mut Sink,
    out: &mut RunOutput,
) -> Option<serde_json::Map<String, serde_json::Value>> {
    if let Some(s) = parsed.get("space").and_then(|s| s.as_str()) {
        if s != info.name {
            sink.push(
                Diagnostic::error(
                    Code::ArchMismatch,
                    format!("`{file}` is an architecture of `{s}`, not of `{}`", info.name),
                    info.span,
                    "this space",
                )
                .with_help("pick the space with `--space NAME`, or describe the file against its own space"),
            );
            return None;
        }
    }
    // A hyperparameter's value is never an object: a space's own param named
    // `assignment` is read as one of a plain object of values.
    let values = match parsed.get("assignment") {
        Some(wrapped @ serde_json::Value::Object(_)) => wrapped,
        Some(other) if !info.params.iter().any(|p| p.name == "assignment") => {
            out.failure = Some(Failure::usage(
                format!("the `assignment` of `{file}` is {other}, not an object of values"),
                "give `assignment` as an object of hyperparameter values, as `nasc sample \
                 --format json` writes it",
            ));
            return None;
        }
        _ => parsed,
    };
    match values {
        serde_json::Value::Object(m) => Some(m.clone()),
        _ => {
            out.failure = Some(Failure::usage(
                format!("`{file}` holds no assignment"),
                "give an object of hyperparameter values, or an architecture with an \
                 `assignment` object (as `nasc sample --format json` writes it)",
            ));
            None
        }
    }
}

/// Builds the architecture that `values` (from `file`) assign; `None` after reporting why
/// they do not make one (a value out of its domain, a missing or unknown one, a violated
/// constraint).
pub(crate) fn build_values(
    interp: &Interp,
    info: &crate::check::SpaceInfo,
    file: &str,
    values: &serde_json::Map<String, serde_json::Value>,
    sink: &mut Sink,
) -> Option<Box<Arch>> {
    let mut replay = Replay::new(values);
    let outcome = interp.build(&mut replay);
    let unused: Vec<String> = replay.unused().into_iter().map(String::from).collect();
    match outcome {
        Err(e) if replay.failed.is_some() => {
            let mut d = out_of_domain(&e, file);
            // A missing value: say which others are open too.
            if let Ok(f) = interp.frontier(&mut Replay::new(values)) {
                if f.open.len() > 1 {
                    let open: Vec<String> =
                        f.open.iter().map(|h| format!("`{}`", h.path)).collect();
                    d = d.with_help(format!(
                        "give values in `{file}` for every open hyperparameter: {} (`nasc describe --partial` lists them with their domains)",
                        open.join(", ")
                    ));
                }
            }
            sink.push(d);
            None
        }
        Err(e) => {
            sink.push(unbuildable(&e));
            None
        }
        Ok(Outcome::Rejected(r, _)) => {
            sink.push(violated(&r, file));
            None
        }
        Ok(Outcome::Built(arch)) => {
            if !unused.is_empty() {
                sink.push(
                    Diagnostic::error(
                        Code::ArchMismatch,
                        format!(
                            "`{file}` gives values for hyperparameters this architecture does not have: {}",
                            unused.iter().map(|u| format!("`{u}`")).collect::<Vec<_>>().join(", ")
                        ),
                        info.span,
                        "in this space",
                    )
                    .with_help("remove them: they are misspelt, or inactive under the other values"),
                );
                return None;
            }
            Some(arch)
        }
    }
}

/// Whether the `hash` an architecture file gives (if any) is the one its values build in
/// this space; reports the difference when not (the file was edited, or written from
/// another version of the space, so its values no longer make the network it names).
pub(crate) fn hash_agrees(
    parsed: &serde_json::Value,
    arch: &Arch,
    info: &crate::check::SpaceInfo,
    file: &str,
    sink: &mut Sink,
) -> bool {
    let Some(given) = parsed.get("hash") else {
        return true;
    };
    let built = arch.hash_hex();
    if given.as_str() == Some(built.as_str()) {
        return true;
    }
    let given = given
        .as_str()
        .map_or_else(|| given.to_string(), String::from);
    sink.push(
        Diagnostic::error(
            Code::ArchMismatch,
            format!(
                "`{file}` names the network {given}, but its values build {built} in this space"
            ),
            info.span,
            "this space",
        )
        .with_help(
            "the file was edited, or written from another version of the space: remove its \
             `hash` to take its values as they are, or sample the architecture again",
        ),
    );
    false
}

fn out_of_domain(e: &BuildError, file: &str) -> Diagnostic {
    Diagnostic::error(
        Code::ArchMismatch,
        e.message.clone(),
        e.span,
        "this hyperparameter",
    )
    .with_help(format!(
        "give `{}` a value of its domain in `{file}`",
        e.path
    ))
}

fn violated(r: &crate::interp::Rejection, file: &str) -> Diagnostic {
    Diagnostic::error(
        Code::ArchMismatch,
        format!("the architecture in `{file}` violates `{}`", r.text),
        r.span,
        "violated",
    )
    .with_help("change the values in the file so that every constraint holds")
}

/// Whether `key` could name a hyperparameter of `info` in some architecture: a named
/// one, or the path of an inline one as the checker's summary lists it (`[i]` standing
/// for any repetition). `true` when there is no summary to tell.
fn could_be(out: &RunOutput, info: &crate::check::SpaceInfo, key: &str) -> bool {
    let Some(summary) = out.summaries.iter().find(|s| s.name == info.name) else {
        return true;
    };
    let pattern = space::summary::path_pattern(key);
    summary
        .params
        .iter()
        .chain(&summary.inline)
        .any(|h| h.path == pattern)
}

/// A partial assignment: the values that apply, the open hyperparameters with their
/// domains, the given values not reached yet, and those no architecture of the space has.
fn print_frontier(
    info: &crate::check::SpaceInfo,
    f: &crate::interp::Frontier,
    unreached: &[&str],
    unknown: &[&str],
    json: bool,
    out: &mut RunOutput,
) {
    if json {
        let j = serde_json::json!({
            "space": info.name,
            "complete": false,
            "assignment": crate::interp::assignment_json(&f.assigned),
            "open": f.open,
            "unreached": unreached,
            "unknown": unknown,
        });
        out.stdout.push_str(&j.to_string());
        out.stdout.push('\n');
        return;
    }
    let s = &mut out.stdout;
    s.push_str(&format!(
        "partial architecture of `{}`: {} given value{} appl{}, {} hyperparameter{} open\n",
        info.name,
        f.assigned.len(),
        if f.assigned.len() == 1 { "" } else { "s" },
        if f.assigned.len() == 1 { "ies" } else { "y" },
        f.open.len(),
        if f.open.len() == 1 { " is" } else { "s are" },
    ));
    let width = f
        .assigned
        .iter()
        .map(|d| d.hyper.path.len())
        .chain(f.open.iter().map(|h| h.path.len()))
        .max()
        .unwrap_or(0);
    for d in &f.assigned {
        s.push_str(&format!(
            "  {:width$}  = {}\n",
            d.hyper.path,
            d.hyper.domain.pick_json(&d.pick)
        ));
    }
    for h in &f.open {
        s.push_str(&format!("  {:width$}  open: {}\n", h.path, h.domain));
    }
    if !unreached.is_empty() {
        s.push_str(&format!(
            "  not reached (behind an open hyperparameter, or inactive): {}\n",
            unreached.join(", ")
        ));
    }
    if !unknown.is_empty() {
        s.push_str(&format!(
            "  unknown (no architecture of the space has them: misspelt?): {}\n",
            unknown.join(", ")
        ));
    }
}

pub(crate) fn unbuildable(e: &BuildError) -> Diagnostic {
    let mut help = String::new();
    if !e.path.is_empty() {
        let _ = write!(help, "while building `{}`", e.path);
    }
    if !e.decisions.is_empty() {
        let _ = write!(
            help,
            "{}with {}",
            if help.is_empty() { "" } else { " " },
            e.decisions
        );
    }
    if !help.is_empty() {
        help.push_str("; ");
    }
    help.push_str("change the space so that every assignment gives a network that can be built");
    Diagnostic::error(
        Code::Unbuildable,
        e.message.clone(),
        e.span,
        e.label.clone(),
    )
    .with_help(help)
}

pub(crate) fn all_rejected(stats: &Rejections, info: &crate::check::SpaceInfo) -> Diagnostic {
    rejected_everything(
        stats,
        info,
        format!(
            "the constraints rejected all {} candidates drawn in a row",
            format_count(&stats.attempts.into())
        ),
    )
}

/// `sample --uniform` of a space whose constraints reject every assignment: `E030`.
fn none_accepted(stats: &Rejections, info: &crate::check::SpaceInfo) -> Diagnostic {
    rejected_everything(
        stats,
        info,
        format!(
            "the constraints reject every one of the {} assignments of the space",
            format_count(&stats.attempts.into())
        ),
    )
}

fn rejected_everything(
    stats: &Rejections,
    info: &crate::check::SpaceInfo,
    headline: String,
) -> Diagnostic {
    let (span, text, n) = match stats.worst() {
        Some((r, n)) => (r.span, r.text.clone(), *n),
        None => (info.span, String::new(), 0),
    };
    let mut d = Diagnostic::error(
        Code::AllRejected,
        headline,
        span,
        format!("rejected {} of them", format_count(&n.into())),
    )
    .with_help(format!("loosen `{text}`, or narrow the domains it rejects"));
    for (r, k) in &stats.by_constraint {
        if r.span != span {
            d = d.with_label(r.span, format!("rejected {}", format_count(&(*k).into())));
        }
    }
    d
}

/// What the checker's count says of the size of `info`: the count, and whether it is
/// exact (it is an upper bound when constraints on metrics, data or continuous values
/// were left out of it). `None` for an infinite space or one it could not count.
fn bound(out: &RunOutput, info: &crate::check::SpaceInfo) -> Option<(num_bigint::BigUint, bool)> {
    let s = out.summaries.iter().find(|s| s.name == info.name)?;
    match &s.size {
        space::summary::Size::Finite(n) => Some((n.clone(), s.uncounted == 0)),
        _ => None,
    }
}

/// Refuses to enumerate `info` when its exact count is past `limit`, before walking any
/// of it, with the count; whether it did.
fn refused(out: &RunOutput, info: &crate::check::SpaceInfo, limit: u64, sink: &mut Sink) -> bool {
    match bound(out, info) {
        Some((n, true)) if n > limit.into() => {
            sink.push(
                Diagnostic::error(
                    Code::TooLargeToEnumerate,
                    format!(
                        "the space has {} architectures, more than the limit of {}",
                        format_count(&n),
                        format_count(&limit.into())
                    ),
                    info.span,
                    "this space",
                )
                .with_help("raise the limit with `--limit N`, or use `nasc sample`"),
            );
            true
        }
        _ => false,
    }
}

fn enum_error(
    e: &EnumError,
    info: &crate::check::SpaceInfo,
    what: &str,
    out: &RunOutput,
) -> Diagnostic {
    match e {
        EnumError::Build(b) => unbuildable(b),
        EnumError::Continuous(h) => Diagnostic::error(
            Code::TooLargeToEnumerate,
            format!(
                "`{what}` needs a finite space, and `{}` is continuous",
                h.path
            ),
            info.params
                .iter()
                .find(|p| *p.name == *h.path)
                .map_or(info.span, |p| p.span),
            "continuous",
        )
        .with_help(format!(
            "quantise it (`{}` with `q = ...`) or use `nasc sample`",
            h.domain
        )),
        EnumError::TooMany(limit) => Diagnostic::error(
            Code::TooLargeToEnumerate,
            match bound(out, info) {
                // An exact count past the limit refused the space before the walk.
                Some((n, _)) => format!(
                    "the space has more than {} architectures (its count says at most {}: some constraints are checked only on built architectures)",
                    format_count(&(*limit).into()),
                    format_count(&n)
                ),
                None => format!(
                    "the space has more than {} architectures",
                    format_count(&(*limit).into())
                ),
            },
            info.span,
            "this space",
        )
        .with_help("raise the limit with `--limit N`, or use `nasc sample`"),
        EnumError::MostlyRejected(stats) => {
            let (span, text) = match stats.worst() {
                Some((r, _)) => (r.span, format!(" (`{}` most often)", r.text)),
                None => (info.span, String::new()),
            };
            Diagnostic::error(
                Code::TooLargeToEnumerate,
                format!(
                    "`{what}` visited {} assignments without reaching the end of the space: the constraints rejected {} of them{text}",
                    format_count(&stats.attempts.into()),
                    format_count(&stats.rejected.into()),
                ),
                span,
                "rejects nearly every assignment",
            )
            .with_help(
                "narrow the domains to the region the constraints allow, or raise `--limit` \
                 (a walk visits at most four assignments per architecture of its limit, and at \
                 least a million)",
            )
        }
    }
}

/// What `sample --uniform` says after its architectures: how many of how many, and that
/// a space smaller than the number asked for gave all it has.
fn uniform_line(stats: &Rejections, drawn: usize, asked: usize) -> String {
    let total = stats.attempts - stats.rejected;
    let mut s = format!(
        "drew {drawn} of the {} architecture{} of the space, each as likely as any other",
        format_count(&total.into()),
        if total == 1 { "" } else { "s" }
    );
    if drawn < asked {
        let _ = write!(
            s,
            " (all of them: fewer than the {asked} asked for, and none is drawn twice)"
        );
    }
    if stats.rejected > 0 {
        let _ = write!(
            s,
            "; the constraints rejected {} of the {} assignments",
            format_count(&stats.rejected.into()),
            format_count(&stats.attempts.into())
        );
    }
    s.push('\n');
    s
}

fn rejection_line(stats: &Rejections, n: usize) -> String {
    let mut s = format!(
        "drew {} architecture{} from {} candidate{}",
        n,
        if n == 1 { "" } else { "s" },
        stats.attempts,
        if stats.attempts == 1 { "" } else { "s" }
    );
    if stats.rejected > 0 {
        let mut parts: Vec<&(crate::interp::Rejection, u64)> = stats.by_constraint.iter().collect();
        parts.sort_by_key(|p| std::cmp::Reverse(p.1));
        let list: Vec<String> = parts
            .iter()
            .map(|(r, k)| match r.constraint {
                Some(_) => format!("`require {}` {k}", r.text),
                None => format!("{} {k}", r.text),
            })
            .collect();
        let _ = write!(s, "; rejected {} ({})", stats.rejected, list.join(", "));
        if stats.acceptance() < 0.01 {
            s.push_str("; nearly every candidate is rejected: loosen the constraints or narrow the domains");
        }
    }
    s.push('\n');
    s
}

/// The decisions on one line.
fn compact(a: &Arch) -> String {
    let parts: Vec<String> = a
        .assignment
        .iter()
        .map(|d| format!("{}={}", d.hyper.path, d.hyper.domain.pick_json(&d.pick)))
        .collect();
    parts.join(" ")
}

fn print_archs(archs: &[Arch], json: bool, out: &mut RunOutput) {
    for (i, a) in archs.iter().enumerate() {
        if !out.put(&arch_text(a, (i + 1, archs.len()), json)) {
            return;
        }
    }
}

/// The architecture as a line of JSON (the IR).
fn json_line(a: &Arch) -> String {
    let mut b = Vec::with_capacity(4096);
    a.write_json(&mut b);
    b.push(b'\n');
    // `serde_json` writes only valid UTF-8, so the fallback is never taken.
    String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Architecture number `index.0` of `index.1` as printed: a JSON line, or the listing for
/// people, after a blank line unless it is the first.
fn arch_text(a: &Arch, index: (usize, usize), json: bool) -> String {
    match json {
        true => json_line(a),
        false => {
            let s = render_arch(a, index.0, index.1);
            match index.0 {
                1 => s,
                _ => format!("\n{s}"),
            }
        }
    }
}

/// An architecture for people: decisions, values, the graph node by node, metrics.
pub fn render_arch(a: &Arch, index: usize, total: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "architecture {index} of {total} · {} · hash {}",
        a.space,
        a.hash_hex()
    );
    let width = a
        .assignment
        .iter()
        .map(|d| d.hyper.path.len())
        .max()
        .unwrap_or(0);
    let _ = writeln!(s, "  decisions ({})", a.assignment.len());
    for d in &a.assignment {
        let _ = writeln!(
            s,
            "    {:<width$}  = {}",
            d.hyper.path,
            show_json(&d.hyper.domain.pick_json(&d.pick))
        );
    }
    let derived: Vec<String> = a
        .values
        .iter()
        .filter(|(k, _)| {
            !a.assignment
                .iter()
                .any(|d| d.hyper.named && *d.hyper.path == **k)
        })
        .map(|(k, v)| format!("{k} = {v}"))
        .collect();
    if !derived.is_empty() {
        let _ = writeln!(s, "  dependent values: {}", derived.join(", "));
    }
    let _ = writeln!(s, "  graph ({} nodes)", a.nodes.len());
    let rows: Vec<(String, String, String, String)> = a
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let args: Vec<String> = n.args.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            let mut op = if args.is_empty() {
                n.op.to_string()
            } else {
                format!("{}({})", n.op, args.join(", "))
            };
            let sequential = n.inputs.len() == 1 && n.inputs[0] as usize + 1 == i;
            if !n.inputs.is_empty() && !sequential {
                let ins: Vec<String> = n.inputs.iter().map(|x| x.to_string()).collect();
                op = format!("{op} <- {}", ins.join(", "));
            }
            let params = if n.cost.params > 0 {
                grouped(n.cost.params)
            } else {
                String::new()
            };
            (format!("{i:>4}"), op, n.shape.to_string(), params)
        })
        .collect();
    let w_op = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0);
    let w_shape = rows.iter().map(|r| r.2.len()).max().unwrap_or(0);
    let w_params = rows.iter().map(|r| r.3.len()).max().unwrap_or(0);
    for (r, n) in rows.iter().zip(&a.nodes) {
        let pad = w_op - r.1.chars().count();
        let line = format!(
            "  {}  {}{}  {:<w_shape$}  {:>w_params$}  {}",
            r.0,
            r.1,
            " ".repeat(pad),
            r.2,
            r.3,
            n.path
        );
        let _ = writeln!(s, "{}", line.trim_end());
    }
    let _ = writeln!(s, "  data: {}", a.data);
    if !a.train.is_empty() {
        let t: Vec<String> = a.train.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        let _ = writeln!(s, "  train: {}", t.join(", "));
    }
    let _ = writeln!(
        s,
        "  metrics: params {} · flops {} per example · activation memory {} per example",
        grouped(a.metrics.params),
        si(a.metrics.flops),
        bytes(a.metrics.activation_memory)
    );
    s
}

fn show_json(j: &serde_json::Value) -> String {
    match j {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn si(x: u64) -> String {
    let f = x as f64;
    match x {
        0..=9_999 => x.to_string(),
        10_000..=999_999 => format!("{:.2} K", f / 1e3),
        1_000_000..=999_999_999 => format!("{:.2} M", f / 1e6),
        _ => format!("{:.2} G", f / 1e9),
    }
}

/// A count with thousands separators only.
pub(crate) fn grouped(x: u64) -> String {
    let s = format_count(&x.into());
    s.split(" (").next().unwrap_or_default().to_string()
}

fn bytes(x: u64) -> String {
    let f = x as f64;
    if x < 1 << 20 {
        format!("{:.1} KiB", f / 1024.0)
    } else if x < 1 << 30 {
        format!("{:.1} MiB", f / (1u64 << 20) as f64)
    } else {
        format!("{:.2} GiB", f / (1u64 << 30) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::read_archs;

    /// The values of `text`, each with its line.
    fn read(text: &str) -> Result<Vec<(usize, serde_json::Value)>, String> {
        let (n, values) = read_archs("f", text).map_err(|f| f.message)?;
        let all: Vec<_> = values.collect::<Result<_, _>>().map_err(|f| f.message)?;
        assert_eq!(all.len(), n);
        Ok(all)
    }

    /// One object, pretty-printed over several lines, or several objects one per line
    /// (blank lines between them allowed): each with the line it starts on.
    #[test]
    fn an_architecture_file_holds_one_or_more_json_values() {
        let lines = |text: &str| -> Vec<usize> {
            read(text).unwrap().into_iter().map(|(l, _)| l).collect()
        };
        assert_eq!(lines("{\n  \"a\": 1,\n  \"b\": 2\n}\n"), [1]);
        assert_eq!(lines("{\"a\": 1}\n{\"a\": 2}\n\n{\"a\": 3}"), [1, 2, 4]);
        assert_eq!(lines("\n\n  {\"a\": 1}"), [3]);
        assert_eq!(
            lines("{\"a\": 1} {\"a\": 2}\n\n {\"a\":\n 3}\n{}"),
            [1, 1, 3, 5]
        );
        let (_, v) = &read("{\"a\": 1}\n{\"a\": 2}").unwrap()[1];
        assert_eq!(v["a"], 2);
        assert!(read(" \n").unwrap_err().contains("no architecture"));
        // A syntax error anywhere is found before any value is handed out.
        let e = read_archs("f", "{\"a\": 1}\n{\"a\"").err().unwrap();
        assert!(
            e.message.contains("not JSON") && e.message.contains("line 2"),
            "{e:?}"
        );
        assert_eq!(e.code, super::super::fail::USAGE);
    }
}
