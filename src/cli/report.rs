//! `nasc report RUN`: writes one run of the results store as a self-contained HTML page
//! (see [`crate::report`]) and prints the page's path (`-o -`: the page itself, on standard
//! output). Store failures are `nas::E038`, as for `nasc show`; a page that cannot be
//! written, `nas::E040`.

use std::path::{Path, PathBuf};

use super::fail::Failure;
use super::MessageFormat;

/// `nasc report RUN`: the exit code (0, or 2 when the store or the file fails).
pub fn report(store_path: &Path, id: i64, output: Option<&Path>, color: super::ColorChoice) -> i32 {
    let stored = match super::run::load_run(store_path, id, color) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let html = crate::report::render(&stored.info, &stored.layers, &stored.trials);
    let path = output.map_or_else(
        || PathBuf::from(format!("nasc-report-{id}.html")),
        Path::to_path_buf,
    );
    if path == Path::new("-") {
        return super::fail::write_stdout(&html, "the page", color);
    }
    if is_the_store(&path, store_path) {
        return Failure::new(
            super::fail::FILE,
            format!("`{}` is the store the report is read from", path.display()),
            "give the page another name with `-o FILE`",
        )
        .print(MessageFormat::Human, color);
    }
    if let Err(e) = std::fs::write(&path, html) {
        return Failure::write(&path, &e).print(MessageFormat::Human, color);
    }
    println!("{}", path.display());
    0
}

/// Whether writing `path` would write over the store at `store` or one of its journal
/// files: the same file under whatever name, a hard link included.
fn is_the_store(path: &Path, store: &Path) -> bool {
    let Ok(target) = std::fs::metadata(path) else {
        return false;
    };
    ["", "-wal", "-shm"].iter().any(|suffix| {
        let mut name = store.as_os_str().to_owned();
        name.push(suffix);
        std::fs::metadata(&name).is_ok_and(|s| same_file(&s, &target))
    })
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(not(unix))]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    // Without inode numbers: the same size and modification time, which two different
    // files rarely share (a false alarm refuses a name; it never loses a store).
    a.len() == b.len() && a.modified().ok() == b.modified().ok()
}
