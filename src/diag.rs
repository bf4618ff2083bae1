//! Diagnostics as data: every error and warning that nasc reports to a user.
//!
//! Each stage pushes [`Diagnostic`] values into a sink instead of returning at the first
//! problem, so an editor sees all of them at once. A diagnostic carries a stable [`Code`]
//! (documented in `docs/diagnostics.md`), a primary labelled span, optional secondary
//! labels and a help line. No source text is stored here: the CLI and the language server
//! attach the named source once, when they render.

use std::fmt;

/// An index into the [`crate::source::SourceMap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FileId(pub u32);

/// A byte range in one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// The file the range lies in.
    pub file: FileId,
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end` in `file`.
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span { file, start, end }
    }

    /// The same span ending at `end`.
    pub fn with_end(self, end: usize) -> Span {
        Span { end, ..self }
    }

    /// The smallest span that covers both `self` and `other` (same file).
    pub fn to(self, other: Span) -> Span {
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// How serious a diagnostic is. Errors fail `nasc check`; warnings do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The program is wrong and cannot be used.
    Error,
    /// The program works but probably does not say what its author meant.
    Warning,
}

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $title:literal; )*) => {
        /// The stable code of every diagnostic nasc can report.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $( $(#[$doc])* $variant, )*
        }

        impl Code {
            /// Every code, in order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code as printed, e.g. `E001`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            /// A short title, used in `docs/diagnostics.md`.
            pub fn title(self) -> &'static str {
                match self { $(Code::$variant => $title,)* }
            }
        }
    };
}

codes! {
    /// The parser found text that does not fit the grammar.
    Syntax = "E001", "syntax error";
    /// A number literal does not fit in 64 bits or is malformed.
    BadNumber = "E002", "invalid number literal";
    /// An imported file or standard-library module does not exist or cannot be read.
    ImportNotFound = "E003", "import not found";
    /// Files import each other in a cycle.
    ImportCycle = "E004", "import cycle";
    /// An imported name is not defined by the imported file.
    ImportNameMissing = "E005", "imported name not defined";
    /// A name is defined twice in the same scope.
    DuplicateDefinition = "E006", "duplicate definition";
    /// A name is used but never defined.
    UnknownName = "E007", "unknown name";
    /// A call names something that is not a function, module or builtin.
    UnknownFunction = "E008", "unknown function or module";
    /// An expression has a different type from the one its place needs.
    TypeMismatch = "E009", "type mismatch";
    /// A call has too many positional arguments or misses a required one.
    Arity = "E010", "wrong number of arguments";
    /// A call names a keyword argument its callee does not declare.
    UnknownArgument = "E011", "unknown keyword argument";
    /// The same argument is given twice.
    DuplicateArgument = "E012", "argument given twice";
    /// A `choice` has no alternatives, or repeats one.
    EmptyChoice = "E013", "empty or repeated choice";
    /// A `range`, `uniform` or `log_uniform` has bounds that describe no value.
    BadDomain = "E014", "invalid domain";
    /// A constant expression divides by zero.
    DivisionByZero = "E015", "division by zero";
    /// Dependent values depend on themselves, or functions call themselves.
    DependencyCycle = "E016", "dependency cycle";
    /// The constraints of a space exclude every architecture.
    Unsatisfiable = "E017", "unsatisfiable constraints";
    /// A module's shape rule fails for some architecture of the space.
    ShapeRule = "E018", "shape rule violated";
    /// A `choice` or other domain appears where only a fixed value may stand.
    DomainNotAllowed = "E019", "domain not allowed here";
    /// A `param` is declared without a domain (`choice`, `range`, `uniform`, `log_uniform`).
    NotADomain = "E020", "parameter without a domain";
    /// A space has no `graph`, or more than one.
    GraphCount = "E021", "missing or repeated graph";
    /// A `data`, `train`, `objective` or `pipeline` block is repeated or misplaced, or one
    /// that another needs is missing (`keep pareto` without two objectives).
    ConfigBlock = "E022", "configuration block missing, repeated or misplaced";
    /// A pipeline stage names an unknown strategy, or a filter an unknown metric.
    UnknownStrategy = "E023", "unknown strategy or metric";
    /// A measured metric is used where only static metrics can be evaluated.
    MeasuredMetric = "E024", "measured metric in a constraint";
    /// A constant integer expression overflows 64 bits.
    Overflow = "E025", "arithmetic overflow";
    /// A type annotation names a type that does not exist.
    UnknownType = "E026", "unknown type";
    /// A graph sequences values that cannot be sequenced (`tensor >> tensor`, ...).
    BadSequence = "E027", "invalid graph sequence";
    /// A `repeat` count is not an integer of at least zero.
    BadRepeat = "E028", "invalid repeat count";
    /// An assignment expands to a network that cannot be built: a module gets a tensor of
    /// the wrong kind (`attention` on an image), `add` joins different shapes, the data
    /// source is unknown. Reported by `nasc sample`, `enumerate` and `describe`.
    Unbuildable = "E029", "architecture cannot be built";
    /// Sampling drew many candidates in a row and the constraints rejected every one.
    AllRejected = "E030", "constraints reject every sample";
    /// An architecture file given to `nasc describe` does not fit the space: a value is
    /// missing, outside its domain, names no hyperparameter, or violates a constraint.
    ArchMismatch = "E031", "architecture does not fit its space";
    /// `nasc enumerate` was asked for a space that is infinite or larger than its limit.
    TooLargeToEnumerate = "E032", "space too large to enumerate";
    /// `nasc train` cannot open the space's data source: a corpus file that does not
    /// exist, a set that must be fetched first, a kind of data training does not read yet.
    DataUnavailable = "E033", "data source unavailable";
    /// A `train` setting has a value training cannot use (a learning rate of zero, a
    /// beta of 1). Reported by `nasc train`.
    BadTrainSetting = "E034", "invalid training setting";
    /// `nasc run` cannot execute the space's pipeline: the space has none, a stage
    /// argument is not a constant, or a strategy is not implemented yet. Reported by
    /// `nasc run`, before any training.
    PipelineCannotRun = "E036", "pipeline cannot run";
    /// A pipeline layer passed no candidate on: every trial failed, or no trial measured
    /// the metric its filter reads, or none satisfied its condition. Reported by `nasc run`.
    LayerKeptNothing = "E037", "pipeline layer kept nothing";
    /// A space whose data is a table of measured results (`nas_bench_201`) does not map
    /// its architectures to the table's keys: a hyperparameter the key is made of is
    /// missing, is not a `choice`, or offers a value the table does not know.
    TableKey = "E039", "space does not fit its table";
    /// A pipeline stage gives its strategy an argument outside the range the strategy's
    /// `builtin` declaration requires (`population >= 1`, `eta >= 2`, a `mutation`
    /// probability between 0 and 1). E040 and E041 are the command line's
    /// (`cli::fail`).
    StrategyArgument = "E042", "strategy argument out of range";
    /// A hyperparameter is declared but never used.
    UnusedParam = "W001", "unused hyperparameter";
    /// A name hides another one of the same name.
    Shadowing = "W002", "shadowed name";
    /// A constraint holds for every assignment and so filters nothing.
    AlwaysTrue = "W003", "constraint always holds";
    /// The space cannot be counted exactly.
    CountUnavailable = "W004", "count not available";
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A labelled span: what is at this place.
#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What is there, lowercase, no trailing period.
    pub message: String,
}

/// One error or warning.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// The stable code.
    pub code: Code,
    /// Error or warning.
    pub severity: Severity,
    /// The headline, lowercase, no trailing period.
    pub message: String,
    /// The primary label: the place the message is about.
    pub primary: Label,
    /// Secondary labels in the same file ("first defined here").
    pub secondary: Vec<Label>,
    /// What to do about it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error with `code`, a headline and a primary label.
    pub fn error(
        code: Code,
        message: impl Into<String>,
        span: Span,
        label: impl Into<String>,
    ) -> Self {
        Diagnostic {
            code,
            severity: if code.as_str().starts_with('W') {
                Severity::Warning
            } else {
                Severity::Error
            },
            message: message.into(),
            primary: Label {
                span,
                message: label.into(),
            },
            secondary: Vec::new(),
            help: None,
        }
    }

    /// A warning; the same as [`Diagnostic::error`] for a `W` code.
    pub fn warning(
        code: Code,
        message: impl Into<String>,
        span: Span,
        label: impl Into<String>,
    ) -> Self {
        let mut d = Diagnostic::error(code, message, span, label);
        d.severity = Severity::Warning;
        d
    }

    /// Adds a secondary label (dropped when it lies in another file than the primary one).
    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Self {
        if span.file == self.primary.span.file {
            self.secondary.push(Label {
                span,
                message: message.into(),
            });
        }
        self
    }

    /// Sets the help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Whether this is an error (as opposed to a warning).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Where a stage pushes its diagnostics.
#[derive(Default, Debug)]
pub struct Sink {
    diags: Vec<Diagnostic>,
}

impl Sink {
    /// Records a diagnostic.
    pub fn push(&mut self, diag: Diagnostic) {
        self.diags.push(diag);
    }

    /// Whether any error (not warning) was recorded.
    pub fn has_errors(&self) -> bool {
        self.diags.iter().any(Diagnostic::is_error)
    }

    /// The diagnostics, in the order they were recorded.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diags
    }

    /// Takes the diagnostics out, sorted by file and position, duplicates removed.
    pub fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.diags.sort_by(|a, b| {
            (
                a.primary.span.file,
                a.primary.span.start,
                a.primary.span.end,
                a.code,
            )
                .cmp(&(
                    b.primary.span.file,
                    b.primary.span.start,
                    b.primary.span.end,
                    b.code,
                ))
        });
        self.diags.dedup();
        self.diags
    }
}
