//! The `nasc` command line: parses arguments with clap and drives the stages.
//!
//! Exit codes: 0 clean (warnings allowed), 1 errors found, 2 usage or I/O error.

pub mod check;

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
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match cli.command {
        Command::Check {
            file,
            message_format,
            color,
        } => check::run(&file, message_format, color),
    }
}
