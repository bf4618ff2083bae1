//! Where training runs: burn's pure-Rust `flex` CPU backend (always built, the default),
//! `wgpu` (Vulkan, Metal, DirectX, or a software Vulkan driver) and CUDA behind the cargo
//! features of the same names.

use burn::tensor::{Device, Tensor};

/// A backend the user can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceChoice {
    /// burn's `flex` backend on the CPU, multi-threaded.
    Cpu,
    /// A GPU through wgpu (needs the `wgpu` feature); `NASC_WGPU_CPU=1` picks a software
    /// adapter instead.
    Wgpu,
    /// An NVIDIA GPU through CUDA (needs the `cuda` feature).
    Cuda,
}

impl DeviceChoice {
    /// As `--device` spells it.
    pub fn name(self) -> &'static str {
        match self {
            DeviceChoice::Cpu => "cpu",
            DeviceChoice::Wgpu => "wgpu",
            DeviceChoice::Cuda => "cuda",
        }
    }
}

/// Why a device cannot be used, and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceError {
    /// What is wrong, lowercase, no trailing period.
    pub message: String,
    /// What to do about it.
    pub help: String,
}

impl DeviceError {
    fn new(message: impl Into<String>, help: impl Into<String>) -> DeviceError {
        DeviceError {
            message: message.into(),
            help: help.into(),
        }
    }
}

/// Opens the device, checking that it works: a backend that was not compiled in, or a
/// machine without such a device, is an error that says what to do, never a panic.
pub fn open(choice: DeviceChoice) -> Result<Device, DeviceError> {
    let device = match choice {
        DeviceChoice::Cpu => Device::flex(),
        DeviceChoice::Wgpu => wgpu()?,
        DeviceChoice::Cuda => cuda()?,
    };
    // Backends open lazily; run one operation so that a missing device shows up here.
    let probe = device.clone();
    let works = std::panic::catch_unwind(move || {
        let t = Tensor::<1>::ones([4], &probe);
        t.sum().into_scalar::<f32>()
    });
    match works {
        Ok(4.0) => Ok(device),
        Ok(v) => Err(DeviceError::new(
            format!(
                "the {} device computed 1+1+1+1 = {v}: it does not work on this machine",
                choice.name()
            ),
            "use `--device cpu`, or check the machine's GPU driver",
        )),
        Err(_) => Err(DeviceError::new(
            format!(
                "no usable {} device on this machine (the backend failed to start)",
                choice.name()
            ),
            "use `--device cpu`, or check the machine's GPU driver",
        )),
    }
}

#[cfg(feature = "wgpu")]
fn wgpu() -> Result<Device, DeviceError> {
    use burn::tensor::DeviceKind;
    let kind = if std::env::var_os("NASC_WGPU_CPU").is_some() {
        DeviceKind::Cpu
    } else {
        DeviceKind::DefaultDevice
    };
    Ok(Device::wgpu(kind))
}

#[cfg(not(feature = "wgpu"))]
fn wgpu() -> Result<Device, DeviceError> {
    Err(DeviceError::new(
        "this nasc was built without the `wgpu` backend",
        "rebuild with `cargo install --path . --features wgpu`, or use `--device cpu`",
    ))
}

#[cfg(feature = "cuda")]
fn cuda() -> Result<Device, DeviceError> {
    Ok(Device::cuda(0))
}

#[cfg(not(feature = "cuda"))]
fn cuda() -> Result<Device, DeviceError> {
    Err(DeviceError::new(
        "this nasc was built without the `cuda` backend",
        "rebuild with `--features cuda` on a machine with the CUDA toolkit and network access \
         (see the README), or use `--device cpu`",
    ))
}

/// The peak memory a GPU backend's allocator holds during training, sampled after each
/// step's loss is read (a point where the device has finished the queued work anyway, so
/// sampling adds no wait of its own) and once at the end.
///
/// What is sampled is the allocator's reserved bytes: every page it holds on the device,
/// live tensors and pages kept for reuse. Pages stay reserved between steps, so the
/// activations of a step's backward pass, which are freed before the next sample, still
/// count through the pages they needed. On `flex` the backend reports no pool and the
/// watch stays empty: the trial's heap ([`crate::alloc::HeapWatch`]) is the device's.
#[derive(Clone, Copy, Debug, Default)]
pub struct MemoryWatch {
    peak: Option<u64>,
}

impl MemoryWatch {
    /// A watch for one training run: the allocator first releases what it can (the pages
    /// an earlier trial of this process left), so the peak is mostly this run's own.
    pub fn start(device: &Device) -> MemoryWatch {
        let mut watch = MemoryWatch::default();
        if device.memory_pool_usage().is_some() {
            device.memory_cleanup();
            watch.sample(device);
        }
        watch
    }

    /// Samples the device's allocator.
    pub fn sample(&mut self, device: &Device) {
        if let Some(u) = device.memory_pool_usage() {
            let held = u.bytes_reserved.max(u.bytes_in_use + u.bytes_padding);
            self.peak = Some(self.peak.map_or(held, |p| p.max(held)));
        }
    }

    /// The largest sample, in bytes; `None` on a backend without a device allocator.
    pub fn peak(&self) -> Option<u64> {
        self.peak
    }
}

/// The peak resident memory of this process so far, in bytes (Linux: `VmHWM`).
pub fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
