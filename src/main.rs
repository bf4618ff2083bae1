//! The `nasc` command.

/// mimalloc keeps freed tensor buffers for reuse: with the system allocator every large
/// tensor of a training step is a fresh mapping whose pages fault in again (about a sixth
/// of a CPU training step, measured with `cargo bench --bench train`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(nasc::cli::main());
}
