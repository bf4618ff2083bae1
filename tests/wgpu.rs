//! Smoke test of the `wgpu` feature: a small model trains through wgpu on a software
//! Vulkan driver (Mesa's lavapipe, Debian's `mesa-vulkan-drivers`), which `NASC_WGPU_CPU=1`
//! selects, so it runs on a machine without a GPU. Built only with `--features wgpu`:
//! `cargo test --features wgpu --test wgpu`. `.ci/run` runs it when the time allows.
#![cfg(feature = "wgpu")]

mod common;

#[test]
fn a_small_model_trains_through_wgpu() {
    let dir = common::temp_dir("wgpu");
    let file = dir.join("small.nas");
    std::fs::write(
        &file,
        "import std.transformer.{ attention, ffn, pre_norm }
space small {
    graph {
        embedding(vocab = data.vocab, dim = 32)
        positions(kind = learned)
        pre_norm(attention(heads = 4))
        pre_norm(ffn(hidden = 64, activation = gelu))
        layer_norm()
        lm_head(vocab = data.vocab)
    }
    data = text_corpus(\"tiny_shakespeare\", context = 32)
    train { steps = 8, batch = 8, warmup = 1, eval_batches = 2, optimizer = adamw(lr = 3e-3) }
}",
    )
    .unwrap();
    let file = file.display().to_string();
    let cpu = std::ffi::OsStr::new("1");
    let args = [
        "train", &file, "--sample", "--device", "wgpu", "--format", "json",
    ];
    let (code, stdout, stderr) = common::nasc_env(&[("NASC_WGPU_CPU", cpu)], &args);
    assert_eq!(
        code, 0,
        "nasc train --device wgpu failed (is a Vulkan driver installed? `apt-get install mesa-vulkan-drivers`):\n{stderr}"
    );
    let j = common::last_json(&stdout);
    assert_eq!(j["status"], "ok", "{j}");
    let (first, last) = (
        j["first_val_loss"].as_f64().unwrap(),
        j["val_loss"].as_f64().unwrap(),
    );
    assert!(
        last < first - 0.5,
        "the loss falls on wgpu: {first} -> {last}"
    );
    // The memory is the GPU allocator's: at least the weights and AdamW's two moments
    // (f32), and not the process's resident memory.
    assert_eq!(j["peak_mem_of"], "device", "{j}");
    let params = j["params"].as_u64().unwrap();
    let device = j["peak_mem_bytes"].as_u64().unwrap();
    assert!(
        device >= 3 * 4 * params,
        "the device held {device} bytes for {params} parameters"
    );
    assert_ne!(j["peak_mem_bytes"], j["peak_host_mem_bytes"], "{j}");
    // The same model on the CPU has the same parameter count.
    let (code, stdout, _) = common::nasc(&[
        "train", &file, "--sample", "--steps", "1", "--format", "json",
    ]);
    assert_eq!(code, 0);
    let cpu = common::last_json(&stdout);
    assert_eq!(j["params"], cpu["params"]);
    let _ = std::fs::remove_dir_all(&dir);
}
