//! Failures that concern no line of a `.nas` file: a file that cannot be read or written,
//! arguments the command cannot take, the results store, the data sets.
//!
//! Each is a coded diagnostic like the checker's, with a headline and a help line but no
//! source and no labels (there is no source line to point at). miette renders them in the
//! theme and width of the other diagnostics; with `--message-format json` they are one
//! JSON object on standard output, shaped like the checker's with `file` and `span` null
//! and no labels. The exit status is 2.

use std::io::{ErrorKind, IsTerminal, Write};
use std::path::Path;

use miette::{GraphicalReportHandler, GraphicalTheme};

use super::{ColorChoice, MessageFormat};

/// A data set cannot be fetched, or is not one nasc knows (`nasc data`).
pub const DATA: &str = "nas::E035";
/// The results store cannot be used (`nasc run`, `runs`, `show`, `export`, `report`).
pub const STORE: &str = "nas::E038";
/// A file named on the command line (or written by a command) cannot be read or written.
pub const FILE: &str = "nas::E040";
/// The command line asks for something the command cannot do.
pub const USAGE: &str = "nas::E041";

/// Every code of this module with its title, in the order `docs/diagnostics.md` documents
/// them.
pub const CODES: [(&str, &str); 4] = [
    (DATA, "data set not fetched or fetch failed"),
    (STORE, "results store unavailable"),
    (FILE, "file cannot be read or written"),
    (USAGE, "invalid command-line arguments"),
];

/// One failure: its code, what went wrong and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// One of this module's codes, as printed (`nas::E040`).
    pub code: &'static str,
    /// What is wrong, lowercase, no trailing period.
    pub message: String,
    /// What to do about it.
    pub help: String,
}

impl Failure {
    /// A failure under `code`.
    pub fn new(code: &'static str, message: impl Into<String>, help: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
            help: help.into(),
        }
    }

    /// Arguments the command cannot take ([`USAGE`]).
    pub fn usage(message: impl Into<String>, help: impl Into<String>) -> Self {
        Failure::new(USAGE, message, help)
    }

    /// `path` (`-`: standard input) could not be read ([`FILE`]).
    pub fn read(path: &Path, e: &std::io::Error) -> Self {
        let what = match path == Path::new("-") {
            true => "standard input".to_string(),
            false => format!("`{}`", path.display()),
        };
        Failure::new(FILE, format!("cannot read {what}: {e}"), remedy(e, false))
    }

    /// `path` could not be written or created ([`FILE`]).
    pub fn write(path: &Path, e: &std::io::Error) -> Self {
        Failure::new(
            FILE,
            format!("cannot write `{}`: {e}", path.display()),
            remedy(e, true),
        )
    }

    /// The failure as miette renders a diagnostic: the code, `× message`, `help: ...`,
    /// 100 columns, coloured when `color`.
    pub fn render(&self, color: bool) -> String {
        let theme = match color {
            true => GraphicalTheme::unicode(),
            false => GraphicalTheme::unicode_nocolor(),
        };
        let handler = GraphicalReportHandler::new_themed(theme)
            .with_width(100)
            .with_links(false);
        let mut out = String::new();
        if handler.render_report(&mut out, &Miette(self)).is_err() {
            out = format!(
                "error[{}]: {}\nhelp: {}\n",
                self.code, self.message, self.help
            );
        }
        out
    }

    /// The failure as `--message-format json` prints a diagnostic.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "file": null,
            "severity": "error",
            "code": self.code,
            "message": self.message,
            "span": null,
            "labels": [],
            "help": self.help,
        })
    }

    /// Prints the failure where `format` prints diagnostics (standard error for people,
    /// standard output for JSON); the exit status of a command that fails with it.
    pub fn print(&self, format: MessageFormat, color: ColorChoice) -> i32 {
        match format {
            MessageFormat::Json => {
                let _ = writeln!(std::io::stdout().lock(), "{}", self.json());
            }
            MessageFormat::Human => eprint!("{}", self.render(color_on(color))),
        }
        2
    }
}

/// Writes `text`, what a command produces (`what`: "the export"), to standard output; the
/// exit status: 0, also when the reader has gone (a closed pipe), else 2 after an `E040`.
pub fn write_stdout(text: &str, what: &str, color: ColorChoice) -> i32 {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => 0,
        Err(e) if e.kind() == ErrorKind::BrokenPipe => 0,
        Err(e) => Failure::new(
            FILE,
            format!("cannot write {what} to standard output: {e}"),
            "check the disk or the pipe the output goes to",
        )
        .print(MessageFormat::Human, color),
    }
}

/// Whether `color` colours standard error.
pub fn color_on(color: ColorChoice) -> bool {
    match color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => std::io::stderr().is_terminal(),
    }
}

/// What to do about an I/O error, by its kind.
fn remedy(e: &std::io::Error, writing: bool) -> String {
    match e.kind() {
        ErrorKind::NotFound if writing => {
            "the folder it goes in does not exist: create it, or give another path".into()
        }
        ErrorKind::NotFound => {
            "check the path (a relative one starts from the current directory)".into()
        }
        ErrorKind::PermissionDenied => {
            "the file's permissions, or its folder's, do not allow it: change them, or give \
             another path"
                .into()
        }
        ErrorKind::IsADirectory => "give a file, not a folder".into(),
        ErrorKind::InvalidData => "nasc reads UTF-8 text: convert the file to UTF-8".into(),
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded => {
            "free some space on that disk, or give a path on another one".into()
        }
        ErrorKind::ReadOnlyFilesystem => "give a path on a writable disk".into(),
        _ if writing => "check that the path can be written".into(),
        _ => "check that the path names a file nasc can read".into(),
    }
}

/// A failure as miette wants it: no source, no labels.
#[derive(Debug)]
struct Miette<'a>(&'a Failure);

impl std::fmt::Display for Miette<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for Miette<'_> {}

impl miette::Diagnostic for Miette<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        Some(Box::new(self.0.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(miette::Severity::Error)
    }

    fn help<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        (!self.0.help.is_empty()).then(|| Box::new(&self.0.help) as Box<dyn std::fmt::Display>)
    }
}

/// A clap error as a [`USAGE`] failure: clap's first line is the headline, its tips and
/// usage line the help. `None` for help and version, which are not failures.
pub fn from_clap(e: &clap::Error) -> Option<Failure> {
    use clap::error::ErrorKind as K;
    if matches!(
        e.kind(),
        K::DisplayHelp | K::DisplayVersion | K::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        return None;
    }
    let text = e.render().to_string();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("the arguments cannot be parsed");
    let message = first.strip_prefix("error: ").unwrap_or(first).to_string();
    let mut help: Vec<String> = Vec::new();
    let mut pending = String::new();
    for line in lines {
        if let Some(tip) = line.strip_prefix("tip: ") {
            help.push(tip.to_string());
        } else if let Some(usage) = line.strip_prefix("Usage: ") {
            help.push(format!("usage: {usage}"));
        } else if line.starts_with("For more information") {
            continue;
        } else {
            // Continuation lines (the arguments that were not given) join the headline.
            pending.push_str(if pending.is_empty() { "" } else { ", " });
            pending.push_str(line);
        }
    }
    let message = match pending.is_empty() {
        true => message,
        false => format!("{message} {pending}"),
    };
    help.push("`nasc help` lists the commands, `nasc COMMAND --help` their options".into());
    Some(Failure::usage(message, help.join("; ")))
}

/// How the raw arguments ask for failures to be printed (`--message-format`, `--color`),
/// before clap has parsed them: for printing clap's own errors.
pub fn output_in_args(args: &[std::ffi::OsString]) -> (MessageFormat, ColorChoice) {
    let value = |name: &str| -> Option<String> {
        let eq = format!("{name}=");
        let mut found = None;
        // After `--` every argument is a value, not an option.
        let options = args.iter().take_while(|a| *a != "--").count();
        for (k, a) in args[..options].iter().enumerate() {
            let a = a.to_string_lossy();
            if a == name {
                found = args.get(k + 1).map(|v| v.to_string_lossy().into_owned());
            } else if let Some(v) = a.strip_prefix(&eq) {
                found = Some(v.to_string());
            }
        }
        found
    };
    let format = match value("--message-format").as_deref() {
        Some("json") => MessageFormat::Json,
        _ => MessageFormat::Human,
    };
    let color = match value("--color").as_deref() {
        Some("always") => ColorChoice::Always,
        Some("never") => ColorChoice::Never,
        _ => ColorChoice::Auto,
    };
    (format, color)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_render_as_coded_diagnostics_without_a_source() {
        let f = Failure::read(
            Path::new("nope.nas"),
            &std::io::Error::from(ErrorKind::NotFound),
        );
        let text = f.render(false);
        assert!(text.contains("nas::E040"), "{text}");
        assert!(text.contains("× cannot read `nope.nas`: "), "{text}");
        assert!(text.contains("help: check the path"), "{text}");
        let json = f.json();
        assert_eq!(json["code"], "nas::E040");
        assert_eq!(json["severity"], "error");
        assert!(json["span"].is_null() && json["file"].is_null());
        assert_eq!(json["help"], f.help.as_str());
        let stdin = Failure::read(
            Path::new("-"),
            &std::io::Error::from(ErrorKind::InvalidData),
        );
        assert!(stdin.message.starts_with("cannot read standard input: "));
        assert!(stdin.help.contains("UTF-8"), "{}", stdin.help);
        let w = Failure::write(Path::new("a/b"), &std::io::Error::from(ErrorKind::NotFound));
        assert!(w.help.contains("folder it goes in"), "{}", w.help);
    }

    fn clap_failure(args: &[&str]) -> Option<Failure> {
        use clap::Parser;
        let e = super::super::Cli::try_parse_from(args).expect_err("the arguments are refused");
        from_clap(&e)
    }

    #[test]
    fn clap_errors_become_usage_failures_with_their_tips() {
        let f = clap_failure(&["nasc", "sample", "x.nas", "--sed", "3"]).expect("a failure");
        assert_eq!(f.code, USAGE);
        assert_eq!(f.message, "unexpected argument '--sed' found");
        assert!(
            f.help.contains("a similar argument exists: '--seed'"),
            "{}",
            f.help
        );
        assert!(f.help.contains("usage: nasc sample"), "{}", f.help);
        let missing = clap_failure(&["nasc", "sample"]).expect("a failure");
        assert_eq!(
            missing.message,
            "the following required arguments were not provided: <FILE>"
        );
        assert!(clap_failure(&["nasc", "--help"]).is_none());
        assert!(clap_failure(&["nasc", "--version"]).is_none());
    }

    #[test]
    fn the_output_options_are_found_before_parsing() {
        let args = |a: &[&str]| a.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        assert_eq!(
            output_in_args(&args(&["nasc", "check", "--message-format", "json"])),
            (MessageFormat::Json, ColorChoice::Auto)
        );
        assert_eq!(
            output_in_args(&args(&[
                "nasc",
                "check",
                "--message-format=json",
                "--color",
                "never"
            ])),
            (MessageFormat::Json, ColorChoice::Never)
        );
        assert_eq!(
            output_in_args(&args(&["nasc", "check", "x", "--color=always"])),
            (MessageFormat::Human, ColorChoice::Always)
        );
        assert_eq!(
            output_in_args(&args(&["nasc", "check", "--", "--message-format", "json"])),
            (MessageFormat::Human, ColorChoice::Auto)
        );
    }
}
