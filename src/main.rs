//! The `nasc` command.

fn main() {
    std::process::exit(nasc::cli::main());
}
