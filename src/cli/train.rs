//! `nasc train` and `nasc eval`: one concrete architecture of a space, trained on the
//! space's data and measured; a saved model evaluated again.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::check::{Checked, SpaceInfo};
use crate::diag::{Code, Diagnostic, Sink};
use crate::interp::strategy::{self, RandomSearch};
use crate::interp::Arch;
use crate::model::Net;
use crate::train::data::{self, Dataset};
use crate::train::device::{self, DeviceChoice};
use crate::train::settings::TrainSettings;
use crate::train::{self as stage, EvalPoint, Observer, Report, Status};

use super::fail::{Failure, FILE};
use super::sample::{build_values, open_space, parse_values, read_archs, with_checked, RunOutput};

/// Which architecture to train.
#[derive(Clone, Debug)]
pub enum ArchSource {
    /// An architecture file (`nasc sample --format json` output, or an object of values).
    File {
        /// Its name, for messages.
        name: String,
        /// Its text.
        json: String,
    },
    /// One architecture drawn with this seed.
    Sample {
        /// The seed.
        seed: u64,
    },
}

/// What `nasc train` was asked to do.
#[derive(Clone, Debug)]
pub struct TrainRequest {
    /// The architecture.
    pub arch: ArchSource,
    /// Overrides the `train` block's `steps`.
    pub steps: Option<usize>,
    /// Overrides the `train` block's `batch`.
    pub batch: Option<usize>,
    /// Overrides the `train` block's `seed`.
    pub train_seed: Option<u64>,
    /// Where to run.
    pub device: DeviceChoice,
    /// Write the weights, the architecture and the report here.
    pub save: Option<PathBuf>,
    /// Show a progress bar and the evaluations on standard error.
    pub progress: bool,
}

/// What `nasc train` produced.
pub struct TrainOutput {
    /// Diagnostics, summary, usage error.
    pub out: RunOutput,
    /// The trial ran and failed (diverged).
    pub failed: bool,
}

/// Trains one architecture of the space `space` of the file `name`.
pub fn run_source(
    name: &str,
    text: String,
    dir: Option<PathBuf>,
    space: Option<&str>,
    request: &TrainRequest,
    json: bool,
) -> TrainOutput {
    let base = dir.clone();
    let (out, failed) = with_checked(name, text, dir, |checked, sink, out| {
        train_checked(checked, base.as_deref(), space, request, json, sink, out)
    });
    TrainOutput { out, failed }
}

/// What the command line says over the space's `train` block, and where to run.
pub(crate) struct Overrides {
    pub steps: Option<usize>,
    pub batch: Option<usize>,
    pub train_seed: Option<u64>,
    pub device: DeviceChoice,
}

/// Everything training needs besides the model: data, settings, device. `None` after
/// reporting why one of them is not there.
pub(crate) fn prepare(
    arch: &Arch,
    info: &SpaceInfo,
    dir: Option<&Path>,
    overrides: &Overrides,
    sink: &mut Sink,
    out: &mut RunOutput,
) -> Option<(Box<dyn Dataset>, TrainSettings, burn::tensor::Device)> {
    let corpus = match data::open(&arch.data, dir) {
        Ok(c) => c,
        Err(e) => {
            let span = info.data.as_ref().map_or(info.span, |d| d.span);
            sink.push(
                Diagnostic::error(Code::DataUnavailable, e.message, span, "this data source")
                    .with_help(e.help),
            );
            return None;
        }
    };
    let mut settings = match TrainSettings::from_fields(&arch.train) {
        Ok(s) => s,
        Err(e) => {
            let span = info
                .train
                .iter()
                .find(|f| f.name.name == e.field)
                .map_or(info.span, |f| f.value.span);
            sink.push(
                Diagnostic::error(Code::BadTrainSetting, e.message, span, "this setting")
                    .with_help(setting_help(&e.field)),
            );
            return None;
        }
    };
    if let Some(s) = overrides.steps {
        settings.steps = s;
        settings.warmup = settings.warmup.min(s / 2);
        settings.eval_every = settings.eval_every.min(s.max(1));
    }
    if let Some(b) = overrides.batch {
        settings.batch = b.max(1);
        // The limits the file's `batch` is held to (`TrainSettings::from_fields`).
        use crate::train::settings::{MAX_BATCH, MAX_VAL_EXAMPLES};
        if b > MAX_BATCH || b.saturating_mul(settings.eval_batches) > MAX_VAL_EXAMPLES {
            out.failure = Some(Failure::usage(
                format!("`--batch {b}` is more than nasc trains with"),
                format!(
                    "give at most {MAX_BATCH}, and at most {MAX_VAL_EXAMPLES} validation \
                     examples in all: `eval_batches` of {} × the batch",
                    settings.eval_batches
                ),
            ));
            return None;
        }
    }
    if let Some(seed) = overrides.train_seed {
        settings.seed = seed;
    }
    match device::open(overrides.device) {
        Ok(d) => Some((corpus, settings, d)),
        Err(e) => {
            out.failure = Some(Failure::usage(e.message, e.help));
            None
        }
    }
}

/// What a `train` field takes, for the help line of its `E034`.
fn setting_help(field: &str) -> String {
    use crate::train::settings::{MAX_BATCH, MAX_VAL_EXAMPLES};
    match field {
        "steps" | "warmup" | "seed" => format!("give `{field}` a count, 0 or more"),
        "batch" => format!("give `batch` a count from 1 to {MAX_BATCH}"),
        "eval_every" => "give `eval_every` a count of 1 or more".into(),
        "eval_batches" => format!(
            "give `eval_batches` a count of 1 or more, with `eval_batches` × `batch` at most {MAX_VAL_EXAMPLES}"
        ),
        "grad_clip" => "give `grad_clip` a gradient norm, 0 or more (0 turns clipping off)".into(),
        "max_seconds" => "give `max_seconds` a positive number of seconds".into(),
        "schedule" => "give `schedule` one of `cosine`, `linear` or `constant`".into(),
        "optimizer" => "give the optimizer a positive learning rate, betas from 0 to below 1 and \
                        a weight decay or momentum of 0 or more"
            .into(),
        _ => "give training a value it can use".into(),
    }
}

/// The one architecture of the file `name` (text `text`); a failure when it is not JSON or
/// holds several (`nasc sample -n 5 --format json` writes one per line).
fn one_arch(name: &str, text: &str) -> Result<serde_json::Value, Failure> {
    let (n, mut archs) = read_archs(name, text)?;
    match (n, archs.next()) {
        (1, Some(a)) => a.map(|(_, v)| v),
        _ => Err(Failure::usage(
            format!("`{name}` holds {n} architectures, one per line; a model is trained on one"),
            match name == "<stdin>" {
                true => "pipe in one architecture (`nasc sample FILE --format json` draws one)",
                false => "put the one to train in a file of its own",
            },
        )),
    }
}

fn train_checked(
    checked: &Checked,
    dir: Option<&Path>,
    space: Option<&str>,
    request: &TrainRequest,
    json: bool,
    sink: &mut Sink,
    out: &mut RunOutput,
) -> bool {
    let Some((info, interp)) = open_space(checked, space, sink, out) else {
        return false;
    };
    let arch = match &request.arch {
        ArchSource::File { name, json } => {
            let parsed = match one_arch(name, json) {
                Ok(v) => v,
                Err(e) => {
                    out.failure = Some(e);
                    return false;
                }
            };
            let Some(values) = parse_values(info, name, &parsed, sink, out) else {
                return false;
            };
            match build_values(&interp, info, name, &values, sink) {
                Some(a) if super::sample::hash_agrees(&parsed, &a, info, name, sink) => a,
                _ => return false,
            }
        }
        ArchSource::Sample { seed } => {
            let mut rng = strategy::rng(*seed);
            match strategy::sample(&interp, &mut RandomSearch, &mut rng, 1, 10_000) {
                Ok((mut archs, _)) => Box::new(archs.remove(0)),
                Err(strategy::SampleError::Build(e)) => {
                    sink.push(super::sample::unbuildable(&e));
                    return false;
                }
                Err(strategy::SampleError::AllRejected(stats)) => {
                    sink.push(super::sample::all_rejected(&stats, info));
                    return false;
                }
            }
        }
    };
    let overrides = Overrides {
        steps: request.steps,
        batch: request.batch,
        train_seed: request.train_seed,
        device: request.device,
    };
    let Some((corpus, settings, device)) = prepare(&arch, info, dir, &overrides, sink, out) else {
        return false;
    };
    if request.progress {
        eprintln!(
            "training {} ({} parameters) on {} for {} steps of {} × {} tokens, {:?}",
            &arch.hash_hex()[..12],
            arch.metrics.params,
            corpus.name(),
            settings.steps,
            settings.batch,
            corpus.seq_len(),
            request.device
        );
    }
    let mut observer = Progress::new(settings.steps, request.progress);
    let result = stage::train(&arch, corpus.as_ref(), &settings, &device, &mut observer);
    observer.finish();
    let (net, report) = match result {
        Ok(x) => x,
        Err(e) => {
            let span = info.graph.as_ref().map_or(info.span, |g| g.span);
            sink.push(
                Diagnostic::error(Code::Unbuildable, e.message, span, "this graph")
                    .with_help(e.help),
            );
            return false;
        }
    };
    if let Some(dir) = &request.save {
        if let Err(e) = save(dir, &arch, &net, &report) {
            out.failure = Some(e);
        }
    }
    print_report(&arch, &report, request.device, json, out);
    report.status == Status::Failed
}

/// Writes `arch.json`, `model.bpk` (burn's format), `report.json` and `model.sha256` (the
/// weights' checksum, as `sha256sum` writes it, so `sha256sum -c model.sha256` checks it
/// too) into `dir`.
///
/// Nothing of a model `dir` already holds is touched until every new file is written in
/// full and flushed to the disk (as a hidden `.NAME.partial` beside its place): a save
/// that fails (a full disk) or is killed part way leaves the old model as it was. The new
/// files then take their places one rename each, the weights first and their checksum
/// last: a crash between two renames leaves new weights beside the old checksum (or
/// beside no `arch.json` at all, in a folder that held no model), which `nasc eval`
/// refuses, rather than a mix that loads.
fn save(dir: &Path, arch: &Arch, net: &Net, report: &Report) -> Result<(), Failure> {
    use burn::module::Module;
    std::fs::create_dir_all(dir).map_err(|e| Failure::write(dir, &e))?;
    let partial = |file: &str| dir.join(format!(".{file}.partial"));
    let written = ["model.bpk", "arch.json", "report.json", CHECKSUM];
    let result = (|| {
        let write = |file: &str, text: String| {
            let p = partial(file);
            write_synced(&p, text.as_bytes()).map_err(|e| Failure::write(&p, &e))
        };
        let weights = partial("model.bpk");
        // burn writes the file whole and flushed, under a scratch name of its own first.
        net.clone().save_file(&weights).map_err(|e| {
            Failure::new(
                FILE,
                format!("cannot write `{}`: {e}", weights.display()),
                "check that the folder can be written and its disk has room",
            )
        })?;
        write("arch.json", format!("{:#}\n", arch.to_json()))?;
        let report = serde_json::to_string_pretty(report).unwrap_or_default();
        write("report.json", report + "\n")?;
        write(CHECKSUM, format!("{}  model.bpk\n", file_sha256(&weights)?))?;
        for file in written {
            let to = dir.join(file);
            std::fs::rename(partial(file), &to).map_err(|e| Failure::write(&to, &e))?;
        }
        // The renames themselves reach the disk.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        for file in written {
            let _ = std::fs::remove_file(partial(file));
        }
    }
    result
}

/// Writes `bytes` to a new file at `path` and flushes it to the disk.
fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Why `nasc train --save DIR` cannot save into `DIR` (a file), or, without `force`,
/// would replace a model `DIR` already holds (a file that `--save` writes is there);
/// `None` when it can.
pub fn cannot_save_in(dir: &Path, force: bool) -> Option<Failure> {
    if dir.exists() && !dir.is_dir() {
        return Some(Failure::usage(
            format!("`{}` is a file, not a directory", dir.display()),
            "`--save` writes a directory of files: give a path that is a directory or does \
             not exist yet",
        ));
    }
    let files = ["model.bpk", "arch.json", CHECKSUM, "report.json"];
    // A folder where a file goes cannot be replaced, `--force` or not: the save would
    // stop half written.
    if let Some(f) = files.iter().find(|f| dir.join(f).is_dir()) {
        return Some(Failure::usage(
            format!(
                "`{}` is a folder, where `--save` writes a file",
                dir.join(f).display()
            ),
            "move it away, or give another directory",
        ));
    }
    if force {
        return None;
    }
    let held: Vec<&str> = files
        .into_iter()
        // `symlink_metadata`: a link, even one to nothing, is something `--save` replaces.
        .filter(|f| dir.join(f).symlink_metadata().is_ok())
        .collect();
    (!held.is_empty()).then(|| {
        Failure::usage(
            format!(
                "`{}` already holds a saved model ({})",
                dir.display(),
                held.join(", ")
            ),
            "give another directory, or add `--force` to replace it",
        )
    })
}

/// The checksum of `model.bpk`, beside it.
const CHECKSUM: &str = "model.sha256";

/// The hex SHA-256 of the file at `path`.
fn file_sha256(path: &Path) -> Result<String, Failure> {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path).map_err(|e| Failure::read(path, &e))?;
    Ok(Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Whether `model.bpk` in `dir` still has the checksum saved with it; `Ok` also when none
/// was saved (models saved before checksums were).
fn verify_weights(dir: &Path) -> Result<(), Failure> {
    let Ok(saved) = std::fs::read_to_string(dir.join(CHECKSUM)) else {
        return Ok(());
    };
    for line in saved.lines() {
        let mut words = line.split_whitespace();
        let (Some(expected), Some(file)) = (words.next(), words.next()) else {
            continue;
        };
        // `sha256sum` marks a file read in binary mode with `*`.
        let file = file.trim_start_matches('*');
        if file != "model.bpk" {
            continue;
        }
        let path = dir.join(file);
        if file_sha256(&path)? != expected {
            return Err(Failure::new(
                FILE,
                format!(
                    "`{}` does not match the checksum saved with it in `{}`",
                    path.display(),
                    dir.join(CHECKSUM).display()
                ),
                "the file was changed or damaged since `nasc train --save` wrote it, or a \
                 save was cut off part way: save the model again",
            ));
        }
    }
    Ok(())
}

fn print_report(arch: &Arch, r: &Report, device: DeviceChoice, json: bool, out: &mut RunOutput) {
    if json {
        let mut j = serde_json::to_value(r).unwrap_or_default();
        if let Some(m) = j.as_object_mut() {
            m.insert("space".into(), arch.space.clone().into());
            m.insert("hash".into(), arch.hash_hex().into());
            m.insert("static_params".into(), arch.metrics.params.into());
            m.insert(
                "device".into(),
                serde_json::to_value(device).unwrap_or_default(),
            );
        }
        out.stdout.push_str(&j.to_string());
        out.stdout.push('\n');
        return;
    }
    let s = &mut out.stdout;
    let _ = writeln!(s, "architecture {}  ({})", arch.hash_hex(), arch.space);
    match &r.reason {
        Some(reason) => {
            let _ = writeln!(s, "status          failed: {reason}");
        }
        None => {
            let _ = writeln!(s, "status          ok");
        }
    }
    let _ = writeln!(s, "steps           {}", r.steps);
    let _ = writeln!(
        s,
        "val loss        {:.4}  (untrained {:.4}, input-blind baseline {:.4})",
        r.val_loss, r.first_val_loss, r.baseline_loss
    );
    let _ = writeln!(
        s,
        "val accuracy    {:.2}%  (baseline {:.2}%)",
        100.0 * r.val_accuracy,
        100.0 * r.baseline_accuracy
    );
    quality_lines(s, r.val_perplexity, r.bits_per_char);
    let _ = writeln!(s, "train loss      {:.4}", r.train_loss);
    let _ = writeln!(
        s,
        "parameters      {}  (static count {})",
        r.params, arch.metrics.params
    );
    let _ = writeln!(
        s,
        "throughput      {:.0} tokens/s, {:.1} ms/step",
        r.tokens_per_s, r.ms_per_step
    );
    let _ = writeln!(
        s,
        "latency         {:.2} ms per batch (inference)",
        r.latency_ms
    );
    let mib = |b: u64| b as f64 / 1048576.0;
    match (r.peak_mem_of, r.peak_mem_bytes, r.peak_host_mem_bytes) {
        ("device", Some(m), host) => {
            let host = host.map_or(String::new(), |h| format!(", process {:.1} MiB", mib(h)));
            let _ = writeln!(
                s,
                "peak memory     {:.1} MiB (device allocator{host})",
                mib(m)
            );
        }
        ("heap", Some(m), host) => {
            let host = host.map_or(String::new(), |h| format!(", process {:.1} MiB", mib(h)));
            let _ = writeln!(
                s,
                "peak memory     {:.1} MiB (heap, this trial{host})",
                mib(m)
            );
        }
        (_, Some(m), _) => {
            let _ = writeln!(s, "peak memory     {:.1} MiB (process)", mib(m));
        }
        _ => {}
    }
    let _ = writeln!(s, "wall time       {:.1} s on {device:?}", r.wall_s);
}

/// Perplexity and bits per character, where the data gives them meaning.
fn quality_lines(s: &mut String, perplexity: Option<f64>, bits: Option<f64>) {
    if let Some(p) = perplexity {
        let _ = writeln!(s, "val perplexity  {p:.3}");
    }
    if let Some(b) = bits {
        let _ = writeln!(s, "bits per char   {b:.3}");
    }
}

/// A progress bar on standard error, with a line per evaluation.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    show: bool,
}

impl Progress {
    fn new(steps: usize, show: bool) -> Progress {
        let bar = show.then(|| {
            let bar = indicatif::ProgressBar::new(steps as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} steps  loss {msg}  {elapsed} (eta {eta})",
            ) {
                bar.set_style(style);
            }
            bar
        });
        Progress { bar, show }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    fn line(&self, text: String) {
        match &self.bar {
            Some(bar) if !bar.is_hidden() => bar.println(text),
            _ if self.show => eprintln!("{text}"),
            _ => {}
        }
    }
}

impl Observer for Progress {
    fn step(&mut self, step: usize, loss: f64, _lr: f64) {
        if let Some(bar) = &self.bar {
            bar.set_position(step as u64);
            bar.set_message(format!("{loss:.4}"));
        }
    }

    fn eval(&mut self, p: &EvalPoint) {
        let train = p
            .train_loss
            .map_or("      -".to_string(), |t| format!("{t:7.4}"));
        self.line(format!(
            "step {:>6}  train loss {train}  val loss {:7.4}  val acc {:6.2}%",
            p.step,
            p.val_loss,
            100.0 * p.val_accuracy
        ));
    }
}

/// What `nasc eval` was asked to do.
#[derive(Clone, Debug)]
pub struct EvalRequest {
    /// The directory `nasc train --save` wrote.
    pub model: PathBuf,
    /// Where to run.
    pub device: DeviceChoice,
}

/// Loads a saved model of the space and measures it on the validation set again.
pub fn eval_source(
    name: &str,
    text: String,
    dir: Option<PathBuf>,
    space: Option<&str>,
    request: &EvalRequest,
    json: bool,
) -> RunOutput {
    let base = dir.clone();
    with_checked(name, text, dir, |checked, sink, out| {
        eval_checked(checked, base.as_deref(), space, request, json, sink, out)
    })
    .0
}

fn eval_checked(
    checked: &Checked,
    dir: Option<&Path>,
    space: Option<&str>,
    request: &EvalRequest,
    json: bool,
    sink: &mut Sink,
    out: &mut RunOutput,
) {
    use burn::module::Module;
    let Some((info, interp)) = open_space(checked, space, sink, out) else {
        return;
    };
    let arch_file = request.model.join("arch.json");
    let arch_name = arch_file.display().to_string();
    let text = match std::fs::read_to_string(&arch_file) {
        Ok(t) => t,
        Err(e) => {
            let mut f = Failure::read(&arch_file, &e);
            f.help = format!(
                "is `{}` a directory written by `nasc train --save`?",
                request.model.display()
            );
            out.failure = Some(f);
            return;
        }
    };
    let parsed = match one_arch(&arch_name, &text) {
        Ok(v) => v,
        Err(e) => {
            out.failure = Some(e);
            return;
        }
    };
    let Some(values) = parse_values(info, &arch_name, &parsed, sink, out) else {
        return;
    };
    let Some(arch) = build_values(&interp, info, &arch_name, &values, sink) else {
        return;
    };
    let saved_hash = parsed
        .get("hash")
        .and_then(|h| h.as_str())
        .map(String::from);
    if saved_hash.as_deref().is_some_and(|h| h != arch.hash_hex()) {
        sink.push(
            Diagnostic::error(
                Code::ArchMismatch,
                format!("the model in `{}` was trained on a different network than this space now builds from its values", request.model.display()),
                info.span,
                "this space",
            )
            .with_help("the space changed since training: evaluate with the space file the model was trained from, or train again"),
        );
        return;
    }
    let overrides = Overrides {
        steps: None,
        batch: None,
        train_seed: None,
        device: request.device,
    };
    let Some((corpus, settings, device)) = prepare(&arch, info, dir, &overrides, sink, out) else {
        return;
    };
    let net = match Net::new(&arch, &device, settings.seed) {
        Ok(n) => n,
        Err(e) => {
            sink.push(
                Diagnostic::error(
                    Code::Unbuildable,
                    format!("`{}` cannot be built as a model: {}", e.path, e.message),
                    info.graph.as_ref().map_or(info.span, |g| g.span),
                    "this graph",
                )
                .with_help("change the architecture, or use modules the model stage implements"),
            );
            return;
        }
    };
    let weights = request.model.join("model.bpk");
    if let Err(e) = verify_weights(&request.model) {
        out.failure = Some(e);
        return;
    }
    let net = match net.try_load_file(&weights) {
        Ok(n) => n,
        Err(e) => {
            out.failure = Some(Failure::new(
                FILE,
                format!("cannot load `{}`: {e}", weights.display()),
                "the weights do not fit this architecture, or the file is not one \
                 `nasc train --save` wrote: save the model again",
            ));
            return;
        }
    };
    let measured = stage::measure(&net, corpus.as_ref(), &settings, &device);
    if json {
        let j = serde_json::json!({
            "space": arch.space,
            "hash": arch.hash_hex(),
            "val_loss": measured.val_loss,
            "val_accuracy": measured.val_accuracy,
            "val_perplexity": measured.val_perplexity,
            "bits_per_char": measured.bits_per_char,
            "latency_ms": measured.latency_ms,
            "params": net.num_params(),
        });
        out.stdout.push_str(&j.to_string());
        out.stdout.push('\n');
    } else {
        let s = &mut out.stdout;
        let _ = writeln!(s, "architecture {}  ({})", arch.hash_hex(), arch.space);
        let _ = writeln!(s, "val loss        {:.4}", measured.val_loss);
        let _ = writeln!(s, "val accuracy    {:.2}%", 100.0 * measured.val_accuracy);
        quality_lines(s, measured.val_perplexity, measured.bits_per_char);
        let _ = writeln!(
            s,
            "latency         {:.2} ms per batch (inference)",
            measured.latency_ms
        );
        let _ = writeln!(s, "parameters      {}", net.num_params());
    }
}
