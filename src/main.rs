//! The `nasc` command.

/// mimalloc (see `nasc::alloc`).
#[global_allocator]
static ALLOCATOR: nasc::alloc::Allocator = nasc::alloc::Allocator;

fn main() {
    std::process::exit(nasc::cli::main());
}
