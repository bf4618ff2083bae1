//! `nasc fmt [FILES...] [--check]`: rewrites `.nas` files in the house style
//! ([`crate::fmt`]), or with `--check` only says which files would change.
//!
//! Files are rewritten atomically (a temporary file in the same folder, then a rename), so
//! an interrupted run never leaves half a file. A file that does not parse is reported
//! like `nasc check` reports it and left as it is.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::fail::{color_on, Failure};
use super::ColorChoice;
use crate::source::{SourceFile, SourceMap};

/// Lines of each side a `--check` diff shows before it cuts the hunk short.
const DIFF_LINES: usize = 6;

/// Runs `nasc fmt`; the exit code is 0 when everything is (or now is) formatted, 1 when
/// `--check` found a file to change or a file does not parse, 2 on an I/O error.
pub fn run(paths: &[PathBuf], check: bool, color: ColorChoice) -> i32 {
    let stdin = [PathBuf::from("-")];
    let paths = if paths.is_empty() { &stdin[..] } else { paths };
    let mut files = Vec::new();
    let mut code = 0;
    for p in paths {
        if p.is_dir() {
            if let Err((at, e)) = collect(p, &mut files) {
                eprint!("{}", Failure::read(&at, &e).render(color_on(color)));
                code = 2;
            }
        } else {
            files.push(p.clone());
        }
    }
    let use_color = color_on(color);
    let mut changed = 0;
    for path in &files {
        match one(path, check, use_color) {
            Ok(true) => changed += 1,
            Ok(false) => {}
            Err(c) => code = code.max(c),
        }
    }
    if check && changed > 0 {
        let s = if changed == 1 { "" } else { "s" };
        println!("{changed} file{s} would be reformatted");
        code = code.max(1);
    }
    code
}

/// Every `.nas` file under `dir`, in name order; folders whose name starts with `.` are
/// skipped. `Err`: the folder that could not be read, and why.
fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), (PathBuf, std::io::Error)> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| (dir.to_path_buf(), e))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        let hidden = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if p.is_dir() {
            if !hidden {
                collect(&p, out)?;
            }
        } else if p.extension().is_some_and(|e| e == "nas") {
            out.push(p);
        }
    }
    Ok(())
}

/// Formats one file (`-`: standard input to standard output); `Ok(true)` when it changed
/// (or, with `check`, would change), `Err` with the exit code after reporting a problem.
fn one(path: &Path, check: bool, color: bool) -> Result<bool, i32> {
    let from_stdin = path == Path::new("-");
    let (name, text) = if from_stdin {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|e| {
            eprint!("{}", Failure::read(path, &e).render(color));
            2
        })?;
        ("<stdin>".to_string(), text)
    } else {
        let text = std::fs::read_to_string(path).map_err(|e| {
            eprint!("{}", Failure::read(path, &e).render(color));
            2
        })?;
        (path.display().to_string(), text)
    };
    let formatted = match crate::fmt::format_source(&text) {
        Ok(f) => f,
        Err(e) => {
            let mut sources = SourceMap::default();
            sources.add(SourceFile {
                name: name.clone(),
                text,
                dir: None,
                path: None,
            });
            eprint!(
                "{}",
                crate::render::human(&e.diagnostic, &sources, 100, color)
            );
            eprintln!("{name}: left unformatted (it does not parse)");
            return Err(1);
        }
    };
    let changed = formatted != text;
    if check {
        if changed {
            println!("would reformat {name}");
            print!("{}", diff(&text, &formatted));
        }
    } else if from_stdin {
        let mut stdout = std::io::stdout().lock();
        if stdout.write_all(formatted.as_bytes()).is_err() {
            return Err(2);
        }
    } else if changed {
        write_atomically(path, &formatted).map_err(|e| {
            eprint!("{}", Failure::write(path, &e).render(color));
            2
        })?;
    }
    Ok(changed)
}

/// Replaces `path` with `text` through a temporary file in the same folder, so readers
/// see the old file or the new one, never a mix; the file keeps its permissions.
/// A file its permissions do not let us write is refused, though replacing it through
/// its folder would succeed.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let denied = || std::io::Error::from(std::io::ErrorKind::PermissionDenied);
    if std::fs::metadata(path)?.permissions().readonly() {
        return Err(denied());
    }
    // Opened for writing and closed again, unchanged: whether this user may write it.
    std::fs::OpenOptions::new().write(true).open(path)?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.nasc-fmt-{}", std::process::id()));
    let res = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// A short unified-style diff: the one hunk between the common first and last lines, each
/// side cut at [`DIFF_LINES`] lines.
fn diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let head = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let tail = a[head..]
        .iter()
        .rev()
        .zip(b[head..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (gone, came) = (&a[head..a.len() - tail], &b[head..b.len() - tail]);
    let mut out = format!(
        "@@ -{},{} +{},{} @@\n",
        head + 1,
        gone.len(),
        head + 1,
        came.len()
    );
    for (sign, lines) in [('-', gone), ('+', came)] {
        for l in lines.iter().take(DIFF_LINES) {
            out.push_str(&format!("{sign}{l}\n"));
        }
        if lines.len() > DIFF_LINES {
            out.push_str(&format!("{sign}... ({} more)\n", lines.len() - DIFF_LINES));
        }
    }
    if gone.is_empty() && came.is_empty() {
        // Only the end of the file differs (a missing final newline).
        out.push_str("\\ the final newline differs\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_shows_the_changed_lines_only() {
        let d = diff("a\nb  \nc\n", "a\nb\nc\n");
        assert_eq!(d, "@@ -2,1 +2,1 @@\n-b  \n+b\n");
    }

    #[test]
    fn diff_of_a_missing_newline() {
        assert!(diff("a", "a\n").contains("final newline"));
    }
}
