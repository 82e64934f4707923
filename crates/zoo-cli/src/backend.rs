//! The one place where a backend name becomes a `burn::Device`.
//!
//! Burn 0.22 picks the backend at run time from a `Device` value; cargo features of zoo-cli
//! decide which backends are compiled in. Opening a device is probed (a tiny computation,
//! run on a helper thread under `catch_unwind`), because Burn's GPU runtimes report a missing
//! adapter by panicking on first use: here it becomes a [`BackendError`] that says what to do.

use std::fmt;
use std::time::Duration;

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// The `[backend]` table of an experiment (or `--backend KIND`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackendConfig {
    /// Which Burn backend runs the model.
    pub kind: BackendKind,
    /// GPU ordinal for `wgpu`, `vulkan` and `cuda` (absent: the first GPU).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// Devices to train on data-parallel; absent or one entry: a single device. GPU ordinals on
    /// a GPU backend; on a CPU backend, each entry is one more worker on the same CPU (the same
    /// arithmetic as N GPUs, no speed-up: the CPU backend already uses every core).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<usize>,
    /// Which of Burn's strategies trains on several devices.
    #[serde(default, skip_serializing_if = "Strategy::is_auto")]
    pub strategy: Strategy,
    /// `kind = "remote"`: the `zoo serve` servers to train on, `ws://host:port` each; one
    /// device per server, several servers train data-parallel.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
}

/// How long connecting to a `zoo serve` may take before it is an error.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// `backend.strategy`: how several devices train together. Every choice makes the update of
/// one device at the same global batch (README "Several devices").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// `ddp` on CUDA, `multi-device` elsewhere.
    #[default]
    Auto,
    /// Burn's multi-device strategy (gradients averaged on the first device).
    MultiDevice,
    /// Burn's distributed data parallel (gradients all-reduced, mean): CUDA only in Burn 0.22.
    Ddp,
}

impl Strategy {
    fn is_auto(&self) -> bool {
        *self == Strategy::Auto
    }

    /// The trainer's strategy for `kind`.
    pub fn resolve(self, kind: BackendKind) -> zoo_train::Parallel {
        match (self, kind) {
            (Strategy::Ddp, _) | (Strategy::Auto, BackendKind::Cuda) => zoo_train::Parallel::Ddp,
            _ => zoo_train::Parallel::MultiDevice,
        }
    }
}

impl BackendConfig {
    /// Checks the keys that go with the kind: `index` picks a GPU; `devices` lists distinct
    /// entries; `strategy = "ddp"` needs collective operations (CUDA).
    pub fn validate(&self) -> Result<(), BackendError> {
        self.validate_hosts()?;
        if !self.kind.is_gpu() && self.index.is_some() {
            return Err(BackendError::invalid(
                "backend.index",
                format!(
                    " picks a GPU, but `{}` runs on the CPU: remove it, or use a GPU backend \
                     (wgpu, vulkan, cuda)",
                    self.kind.name()
                ),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        if let Some(twice) = self.devices.iter().find(|&&d| !seen.insert(d)) {
            return Err(BackendError::invalid(
                "backend.devices",
                format!(
                    " lists device {twice} twice: each entry is one device (one worker) of \
                     the data-parallel training"
                ),
            ));
        }
        if self.strategy == Strategy::Ddp && self.kind != BackendKind::Cuda {
            return Err(BackendError::invalid(
                "backend.strategy",
                format!(
                    " = \"ddp\" needs collective operations (all-reduce), which Burn 0.22 \
                     implements for CUDA only (NCCL); `{}` has none: use \"auto\" or \
                     \"multi-device\" (Burn's multi-device strategy, the same update)",
                    self.kind.name()
                ),
            ));
        }
        Ok(())
    }

    /// `hosts` go with `kind = "remote"` (and it with them), each a `ws://` address.
    fn validate_hosts(&self) -> Result<(), BackendError> {
        let remote = self.kind == BackendKind::Remote;
        if remote && self.hosts.is_empty() {
            return Err(BackendError::invalid(
                "backend.hosts",
                " is empty: `kind = \"remote\"` trains on the devices of `zoo serve` servers, \
                 e.g. hosts = [\"ws://127.0.0.1:3000\"]"
                    .into(),
            ));
        }
        if !remote && !self.hosts.is_empty() {
            return Err(BackendError::invalid(
                "backend.hosts",
                format!(
                    " goes with kind = \"remote\", not `{}`: remove it, or set kind = \"remote\"",
                    self.kind.name()
                ),
            ));
        }
        if remote && (self.index.is_some() || !self.devices.is_empty()) {
            let key = if self.index.is_some() {
                "backend.index"
            } else {
                "backend.devices"
            };
            return Err(BackendError::invalid(
                key,
                " does not go with kind = \"remote\": each of backend.hosts is one device".into(),
            ));
        }
        for host in &self.hosts {
            let rest = host.strip_prefix("ws://").unwrap_or("");
            let port = rest
                .rsplit_once(':')
                .map(|(_, port)| port.trim_end_matches('/'));
            if rest.is_empty() || port.is_none_or(|p| p.parse::<u16>().is_err()) {
                return Err(BackendError::invalid(
                    "backend.hosts",
                    format!(
                        " has {host:?}: expected a `zoo serve` address ws://HOST:PORT, e.g. \
                         \"ws://127.0.0.1:3000\""
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The devices to train on: each of `devices` opened, or the one device of `index`; for
    /// `kind = "remote"`, the device of each of `hosts`.
    pub fn open_all(&self) -> Result<Vec<Device>, BackendError> {
        if self.kind == BackendKind::Remote {
            self.validate_hosts()?;
            return self.hosts.iter().map(|host| open_remote(host)).collect();
        }
        if !self.kind.is_gpu() && self.devices.len() > 1 {
            // The CPU is one device: each entry is one more worker on it.
            let device = open_device(&BackendConfig {
                devices: Vec::new(),
                ..self.clone()
            })?;
            return Ok(vec![device; self.devices.len()]);
        }
        if self.devices.len() <= 1 {
            let index = self.devices.first().copied().or(self.index);
            return Ok(vec![open_device(&BackendConfig {
                index,
                ..self.clone()
            })?]);
        }
        self.devices
            .iter()
            .map(|&index| {
                open_device(&BackendConfig {
                    index: Some(index),
                    devices: Vec::new(),
                    ..self.clone()
                })
            })
            .collect()
    }
}

impl Default for BackendConfig {
    fn default() -> Self {
        Self {
            // Flex is Burn's recommended CPU backend and ~40x faster than NdArray at training
            // convolutions on CPU (../shared/BURN-0.22.md): the default that works everywhere.
            kind: BackendKind::Flex,
            index: None,
            devices: Vec::new(),
            strategy: Strategy::Auto,
            hosts: Vec::new(),
        }
    }
}

/// Every backend kind a config may name, compiled in or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
#[value(rename_all = "kebab-case")]
pub enum BackendKind {
    /// burn-ndarray on the CPU (deprecated upstream), running burn-zoo's kernels like Flex.
    Ndarray,
    /// burn-flex: pure-Rust CPU backend, multi-threaded and vectorised.
    Flex,
    /// wgpu on a GPU (Vulkan, Metal or DX12, whichever the machine offers).
    Wgpu,
    /// wgpu on a CPU adapter: Mesa's software Vulkan (lavapipe). Slow, but runs anywhere.
    WgpuCpu,
    /// wgpu pinned to Vulkan (SPIR-V kernels).
    Vulkan,
    /// CUDA on an NVIDIA GPU.
    Cuda,
    /// The devices of `zoo serve` servers (`backend.hosts`), over Burn Remote's WebSocket.
    Remote,
}

impl BackendKind {
    /// The local kinds, in the order `zoo devices` lists them (`remote` needs hosts).
    pub const ALL: [BackendKind; 6] = [
        BackendKind::Ndarray,
        BackendKind::Flex,
        BackendKind::Wgpu,
        BackendKind::WgpuCpu,
        BackendKind::Vulkan,
        BackendKind::Cuda,
    ];

    /// The name used in configs and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Ndarray => "ndarray",
            BackendKind::Flex => "flex",
            BackendKind::Wgpu => "wgpu",
            BackendKind::WgpuCpu => "wgpu-cpu",
            BackendKind::Vulkan => "vulkan",
            BackendKind::Cuda => "cuda",
            BackendKind::Remote => "remote",
        }
    }

    /// The zoo-cli cargo feature that compiles this backend in.
    pub fn cargo_feature(self) -> &'static str {
        match self {
            BackendKind::Ndarray => "ndarray",
            BackendKind::Flex => "flex",
            BackendKind::Wgpu | BackendKind::WgpuCpu => "wgpu",
            BackendKind::Vulkan => "vulkan",
            BackendKind::Cuda => "cuda",
            BackendKind::Remote => "remote",
        }
    }

    /// Whether this build of zoo has the backend.
    pub fn is_compiled(self) -> bool {
        match self {
            BackendKind::Ndarray => cfg!(feature = "ndarray"),
            BackendKind::Flex => cfg!(feature = "flex"),
            BackendKind::Wgpu | BackendKind::WgpuCpu => cfg!(feature = "wgpu"),
            BackendKind::Vulkan => cfg!(feature = "vulkan"),
            BackendKind::Cuda => cfg!(feature = "cuda"),
            BackendKind::Remote => cfg!(feature = "remote"),
        }
    }

    /// Whether the kind needs a GPU (and so may find no adapter).
    pub fn is_gpu(self) -> bool {
        matches!(
            self,
            BackendKind::Wgpu | BackendKind::Vulkan | BackendKind::Cuda
        )
    }

    /// The Burn expression this kind becomes, for tables and messages.
    pub fn burn_device(self) -> &'static str {
        match self {
            BackendKind::Ndarray => "Device::ndarray()",
            BackendKind::Flex => "Device::flex()",
            BackendKind::Wgpu => "Device::wgpu(DeviceKind::DiscreteGpu(i) | IntegratedGpu(0))",
            BackendKind::WgpuCpu => "Device::wgpu(DeviceKind::Cpu)",
            BackendKind::Vulkan => "Device::vulkan(DeviceKind::DiscreteGpu(i) | IntegratedGpu(0))",
            BackendKind::Cuda => "Device::cuda(i)",
            BackendKind::Remote => "Device::remote_options(&RemoteHost::websocket(url)).init()",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a backend could not give a device.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The kind exists but this build of zoo was compiled without it.
    #[error(
        "backend `{kind}` is not compiled into this zoo binary: rebuild with the cargo feature \
         `{feature}` (e.g. `cargo build --release -p zoo-cli --features {feature}`)"
    )]
    NotCompiled {
        /// The requested kind.
        kind: BackendKind,
        /// The feature that adds it.
        feature: &'static str,
    },
    /// The backend is compiled in, but opening a device failed (no adapter, no driver).
    #[error("backend `{kind}` could not open a device on this machine: {reason}. {hint}")]
    Unavailable {
        /// The requested kind.
        kind: BackendKind,
        /// What Burn reported.
        reason: String,
        /// What to do instead.
        hint: &'static str,
    },
    /// A `zoo serve` server could not be reached, or did not answer in time.
    #[error(
        "backend.hosts: cannot train on {host}: {reason}. Is `zoo serve` running there, and is \
         the address right?"
    )]
    Remote {
        /// The server's address.
        host: String,
        /// What failed.
        reason: String,
    },
    /// A `[backend]` key that does not go with the kind.
    #[error("{key}{message}")]
    Invalid {
        /// `backend.index` or `backend.devices`.
        key: &'static str,
        /// The rest of the sentence, after the key.
        message: String,
    },
}

impl BackendError {
    fn invalid(key: &'static str, message: String) -> Self {
        BackendError::Invalid { key, message }
    }

    /// The `[backend]` key at fault, where one is.
    pub fn config_key(&self) -> Option<String> {
        match self {
            BackendError::Invalid { key, .. } => Some(key.to_string()),
            _ => None,
        }
    }
}

/// What to suggest when a kind cannot open a device.
fn hint(kind: BackendKind) -> &'static str {
    if kind.is_gpu() {
        "No GPU adapter here: use `--backend flex` (fast CPU), `--backend ndarray`, or \
         `--backend wgpu-cpu` (Mesa's software Vulkan, Debian package `mesa-vulkan-drivers`)"
    } else if kind == BackendKind::WgpuCpu {
        "wgpu-cpu needs a Vulkan CPU driver: install Mesa's lavapipe (Debian/Ubuntu package \
         `mesa-vulkan-drivers`), or use `--backend flex`"
    } else {
        "Use `--backend flex` or `--backend ndarray`"
    }
}

/// The device candidates for a kind, best first, without touching the hardware:
/// `open_device` tries them in order.
#[allow(unused_variables, unreachable_code)] // which arms exist depends on the features
pub fn devices_for(kind: BackendKind, index: Option<usize>) -> Result<Vec<Device>, BackendError> {
    if !kind.is_compiled() {
        return Err(BackendError::NotCompiled {
            kind,
            feature: kind.cargo_feature(),
        });
    }
    if kind == BackendKind::WgpuCpu && cfg!(feature = "vulkan") {
        // cubecl's `spirv` (our `vulkan` feature) sends every Vulkan device SPIR-V kernels, and
        // Mesa's lavapipe (22.3, Debian 12) segfaults compiling them: refuse before touching it.
        return Err(BackendError::Unavailable {
            kind,
            reason: "this build has the cargo feature `vulkan`, which compiles the kernels of \
                     every Vulkan device to SPIR-V, and Mesa's lavapipe crashes on them"
                .into(),
            hint: "For wgpu-cpu, use a build without `--features vulkan`",
        });
    }
    let devices: Vec<Device> = match kind {
        #[cfg(feature = "ndarray")]
        #[allow(deprecated)] // burn-ndarray is deprecated upstream; users still ask for it
        BackendKind::Ndarray => vec![Device::ndarray()],
        #[cfg(feature = "flex")]
        BackendKind::Flex => vec![Device::flex()],
        // `DeviceKind::DefaultDevice` would fall back to a CPU adapter (lavapipe) silently;
        // `wgpu` means a GPU, so only GPU adapter kinds are tried. `wgpu-cpu` names the CPU.
        #[cfg(feature = "wgpu")]
        BackendKind::Wgpu => gpu_kinds(index).into_iter().map(Device::wgpu).collect(),
        #[cfg(feature = "wgpu")]
        BackendKind::WgpuCpu => vec![Device::wgpu(burn::tensor::DeviceKind::Cpu)],
        #[cfg(feature = "vulkan")]
        BackendKind::Vulkan => gpu_kinds(index).into_iter().map(Device::vulkan).collect(),
        #[cfg(feature = "cuda")]
        BackendKind::Cuda => vec![Device::cuda(index.unwrap_or(0))],
        #[allow(unreachable_patterns)]
        _ => unreachable!("is_compiled() and the cfg arms agree"),
    };
    Ok(devices)
}

/// GPU adapter kinds to try for `wgpu`/`vulkan`: the ordinal's discrete GPU, or without an
/// ordinal the first discrete then the first integrated GPU.
#[cfg(any(feature = "wgpu", feature = "vulkan"))]
fn gpu_kinds(index: Option<usize>) -> Vec<burn::tensor::DeviceKind> {
    use burn::tensor::DeviceKind;
    match index {
        Some(i) => vec![DeviceKind::DiscreteGpu(i)],
        None => vec![DeviceKind::DiscreteGpu(0), DeviceKind::IntegratedGpu(0)],
    }
}

/// How long a device may take to answer the probe: first use of a wgpu device compiles
/// kernels (seconds on a GPU, longer on Mesa's software Vulkan).
const PROBE_TIMEOUT: Duration = Duration::from_secs(300);

/// Panic messages caught while a probe is in flight: `Some` during a probe. Burn's GPU
/// runtimes panic on their own device threads when no adapter exists; the message (the real
/// reason) is kept for the error instead of being printed as a stack trace.
static PROBE_PANICS: std::sync::Mutex<Option<Vec<String>>> = std::sync::Mutex::new(None);

/// Installs (once) a panic hook that records panics while a probe is in flight and defers to
/// the previous hook otherwise.
fn install_probe_hook() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let mut probing = PROBE_PANICS
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match probing.as_mut() {
                Some(messages) => messages.push(panic_message(info.payload())),
                None => {
                    drop(probing);
                    previous(info)
                }
            }
        }));
    });
}

/// Why a device probe failed; its text becomes [`BackendError::Unavailable`]'s reason.
#[derive(Debug, thiserror::Error)]
enum ProbeError {
    /// The helper thread could not be started.
    #[error("cannot start a thread: {0}")]
    Thread(std::io::Error),
    /// The runtime did not answer (a driver that hangs).
    #[error("no answer within {} s", PROBE_TIMEOUT.as_secs())]
    Timeout,
    /// The runtime panicked: the useful part of its message ([`runtime_reason`]).
    #[error("{0}")]
    Panicked(String),
    /// The device answered, wrongly.
    #[error("1² + 2² + 3² computed as {0}, expected 14")]
    WrongValue(f32),
}

/// Runs `f` on a helper thread under `catch_unwind`, with panics recorded rather than printed.
/// `Err` is the first panic's message (a device thread's, usually), or a timeout.
fn on_probe_thread<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ProbeError> {
    install_probe_hook();
    let set_probing = |state: Option<Vec<String>>| {
        std::mem::replace(
            &mut *PROBE_PANICS
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
            state,
        )
    };
    set_probing(Some(Vec::new()));
    let (sender, receiver) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("zoo-device-probe".into())
        .spawn(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = sender.send(outcome.ok());
        });
    let outcome = match spawned {
        Ok(_) => receiver.recv_timeout(PROBE_TIMEOUT).ok().flatten(),
        Err(error) => {
            set_probing(None);
            return Err(ProbeError::Thread(error));
        }
    };
    let panics = set_probing(None).unwrap_or_default();
    match outcome {
        Some(value) => Ok(value),
        None => Err(panics.first().map_or(ProbeError::Timeout, |first| {
            ProbeError::Panicked(runtime_reason(first))
        })),
    }
}

/// The useful part of a runtime's panic, on one line a user can act on.
///
/// - cubecl (wgpu) reports `AdapterUnavailable { .., message: "No Discrete GPU device found,
///   adapters [..]" }`: the message without the adapter dump.
/// - cudarc, with no NVIDIA driver, lists the ~30 library names it tried: say which library is
///   missing and where it comes from instead.
/// - cubecl-cuda unwraps CUDA driver errors: name the CUDA error (no device, bad ordinal).
fn runtime_reason(panic: &str) -> String {
    const LOAD: &str = "Unable to dynamically load the \"";
    if let Some(start) = panic.find(LOAD) {
        let rest = &panic[start + LOAD.len()..];
        let library = &rest[..rest.find('"').unwrap_or(rest.len())];
        return if library == "cuda" {
            "no CUDA driver: libcuda.so (installed with the NVIDIA driver) was not found; \
             install the driver, or add the directory holding libcuda.so to LD_LIBRARY_PATH"
                .to_string()
        } else {
            format!(
                "the `{library}` shared library was not found (install it, or add its \
                 directory to LD_LIBRARY_PATH)"
            )
        };
    }
    for (code, meaning) in [
        ("CUDA_ERROR_NO_DEVICE", "the CUDA driver found no GPU"),
        ("CUDA_ERROR_INVALID_DEVICE", "no CUDA GPU with that index"),
        (
            "CUDA_ERROR_INSUFFICIENT_DRIVER",
            "the NVIDIA driver is older than this build's CUDA needs",
        ),
        (
            "CUDA_ERROR_NOT_INITIALIZED",
            "the CUDA driver could not be initialised",
        ),
    ] {
        if panic.contains(code) {
            return format!("{meaning} ({code})");
        }
    }
    let Some(start) = panic.find("message: \"") else {
        return panic.to_string();
    };
    let rest = &panic[start + "message: \"".len()..];
    let end = rest
        .find(", adapters")
        .or_else(|| rest.find('"'))
        .unwrap_or(rest.len());
    rest[..end].to_string()
}

/// Runs a tiny computation on `device`; `Err` carries what went wrong.
fn probe(device: &Device) -> Result<(), ProbeError> {
    let device = device.clone();
    let value = on_probe_thread(move || {
        let x = Tensor::<1>::from_floats([1.0, 2.0, 3.0], &device);
        (x.clone() * x).sum().into_scalar::<f32>()
    })?;
    if value == 14.0 {
        Ok(())
    } else {
        Err(ProbeError::WrongValue(value))
    }
}

/// The text of a caught panic, on one line.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("the backend panicked");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The device for a `[backend]` table: the one function that maps a kind to a `Device`.
///
/// The device is opened and checked with a tiny computation, so that a missing adapter is an
/// error here rather than a panic in the middle of a run.
pub fn open_device(config: &BackendConfig) -> Result<Device, BackendError> {
    let kind = config.kind;
    if kind == BackendKind::Remote {
        // Evaluating a remote run: the first server.
        config.validate_hosts()?;
        return open_remote(&config.hosts[0]);
    }
    let mut reasons = Vec::new();
    for device in devices_for(kind, config.index)? {
        match probe(&device) {
            Ok(()) => return Ok(device),
            Err(reason) => reasons.push(reason.to_string()),
        }
    }
    Err(BackendError::Unavailable {
        kind,
        reason: reasons.join("; "),
        hint: hint(kind),
    })
}

/// The device of the `zoo serve` at `host` (`ws://HOST:PORT`), connected and checked with the
/// probe's computation within [`CONNECT_TIMEOUT`]: a wrong or unreachable host is an error in
/// seconds, never a hang.
pub fn open_remote(host: &str) -> Result<Device, BackendError> {
    if !BackendKind::Remote.is_compiled() {
        return Err(BackendError::NotCompiled {
            kind: BackendKind::Remote,
            feature: BackendKind::Remote.cargo_feature(),
        });
    }
    let failed = |reason: String| BackendError::Remote {
        host: host.to_string(),
        reason,
    };
    // A plain TCP connect first: a closed port or unknown name is said at once, in its words
    // (Burn Remote retries those until its own timeout).
    answers(host).map_err(failed)?;
    #[cfg(feature = "remote")]
    {
        use burn::remote::RemoteHost;
        let url = host.to_string();
        let (sender, receiver) = std::sync::mpsc::channel();
        // The connect and the probe on a thread of their own: a host that never answers leaves
        // that thread waiting, not the command.
        let spawned = std::thread::Builder::new()
            .name("zoo-connect".into())
            .spawn(move || {
                let device = Device::remote_options(&RemoteHost::websocket(&url))
                    .init()
                    .map_err(|error| error.to_string())
                    .and_then(|device| {
                        probe(&device)
                            .map(|()| device)
                            .map_err(|error| error.to_string())
                    });
                let _ = sender.send(device);
            });
        if let Err(error) = spawned {
            return Err(failed(format!("no thread to connect on: {error}")));
        }
        match receiver.recv_timeout(CONNECT_TIMEOUT) {
            Ok(Ok(device)) => Ok(device),
            Ok(Err(reason)) => Err(failed(reason)),
            Err(_) => Err(failed(format!(
                "no answer within {} s",
                CONNECT_TIMEOUT.as_secs()
            ))),
        }
    }
    #[cfg(not(feature = "remote"))]
    Err(failed("unreachable".into()))
}

/// Whether something listens at a `ws://HOST:PORT` address: a TCP connect within 3 s, without
/// Burn Remote (whose sessions of this process stay open, dead or alive, once made).
pub fn answers(host: &str) -> Result<(), String> {
    use std::net::ToSocketAddrs;
    let address = host
        .strip_prefix("ws://")
        .unwrap_or(host)
        .trim_end_matches('/');
    let addresses: Vec<_> = address
        .to_socket_addrs()
        .map_err(|error| format!("cannot resolve {address}: {error}"))?
        .collect();
    let mut last = format!("{address} resolves to no address");
    for socket in addresses {
        match std::net::TcpStream::connect_timeout(&socket, Duration::from_secs(3)) {
            Ok(_) => return Ok(()),
            Err(error) => last = format!("cannot connect to {socket}: {error}"),
        }
    }
    Err(last)
}

/// The adapter's name, where the backend reports one (wgpu, vulkan, cuda).
pub fn device_name(device: &Device) -> Option<String> {
    #[cfg(any(feature = "wgpu", feature = "vulkan", feature = "cuda"))]
    {
        let device = device.clone();
        on_probe_thread(move || device.identity().map(|identity| identity.name))
            .ok()
            .flatten()
    }
    #[cfg(not(any(feature = "wgpu", feature = "vulkan", feature = "cuda")))]
    {
        let _ = device;
        None
    }
}

/// One line of `zoo devices`.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceReport {
    /// The backend kind.
    pub kind: BackendKind,
    /// Compiled into this binary.
    pub compiled: bool,
    /// A device opened and computed correctly.
    pub usable: bool,
    /// Adapter name when usable, or why not.
    pub detail: String,
}

/// Tries every backend kind on this machine.
pub fn report_devices() -> Vec<DeviceReport> {
    BackendKind::ALL
        .iter()
        .map(|&kind| {
            let config = BackendConfig {
                kind,
                ..BackendConfig::default()
            };
            match open_device(&config) {
                Ok(device) => DeviceReport {
                    kind,
                    compiled: true,
                    usable: true,
                    detail: device_name(&device).unwrap_or_else(|| "CPU".into()),
                },
                Err(error) => DeviceReport {
                    kind,
                    compiled: kind.is_compiled(),
                    usable: false,
                    detail: match error {
                        BackendError::NotCompiled { feature, .. } => {
                            format!("not compiled in (cargo feature `{feature}`)")
                        }
                        BackendError::Unavailable { reason, .. } => {
                            format!("no device: {reason}")
                        }
                        // open_device does not validate; a config's keys are not asked here
                        other @ (BackendError::Invalid { .. } | BackendError::Remote { .. }) => {
                            other.to_string()
                        }
                    },
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_panics_become_one_short_reason() {
        // cudarc 0.19's message without libcuda (the list of names shortened here).
        let no_driver = "Unable to dynamically load the \"cuda\" shared library - searched for \
            library names: [\"cuda\", \"nvcuda\", \"libcuda.so\", \"libcuda.so.1\"]. Ensure that \
            `LD_LIBRARY_PATH` has the correct path to the installed library.";
        let reason = runtime_reason(no_driver);
        assert!(reason.starts_with("no CUDA driver: libcuda.so"), "{reason}");
        assert!(!reason.contains("nvcuda"), "{reason}");
        let nvrtc = runtime_reason("Unable to dynamically load the \"nvrtc\" shared library - x");
        assert!(
            nvrtc.starts_with("the `nvrtc` shared library was not found"),
            "{nvrtc}"
        );
        let no_device = "called `Result::unwrap()` on an `Err` value: \
            DriverError(CUDA_ERROR_NO_DEVICE, \"no CUDA-capable device is detected\")";
        assert_eq!(
            runtime_reason(no_device),
            "the CUDA driver found no GPU (CUDA_ERROR_NO_DEVICE)"
        );
        let wgpu = "AdapterUnavailable { kind: DiscreteGpu(0), message: \"No Discrete GPU device \
            found, adapters [Cpu lavapipe]\" }";
        assert_eq!(runtime_reason(wgpu), "No Discrete GPU device found");
        assert_eq!(runtime_reason("something else"), "something else");
    }

    #[test]
    fn backend_kind_names_round_trip_through_serde() {
        for kind in BackendKind::ALL {
            let config = BackendConfig {
                kind,
                index: Some(1),
                devices: vec![0, 1],
                strategy: Strategy::MultiDevice,
                hosts: Vec::new(),
            };
            let text = toml::to_string(&config).unwrap();
            assert!(text.contains(&format!("kind = \"{}\"", kind.name())));
            assert_eq!(toml::from_str::<BackendConfig>(&text).unwrap(), config);
        }
    }

    #[test]
    fn strategy_auto_is_ddp_on_cuda_only_and_ddp_elsewhere_is_refused() {
        use zoo_train::Parallel;
        assert_eq!(Strategy::Auto.resolve(BackendKind::Cuda), Parallel::Ddp);
        for kind in [BackendKind::Flex, BackendKind::Wgpu, BackendKind::Ndarray] {
            assert_eq!(Strategy::Auto.resolve(kind), Parallel::MultiDevice);
        }
        assert_eq!(
            Strategy::MultiDevice.resolve(BackendKind::Cuda),
            Parallel::MultiDevice
        );
        let ddp = |kind| BackendConfig {
            kind,
            strategy: Strategy::Ddp,
            ..BackendConfig::default()
        };
        assert!(ddp(BackendKind::Cuda).validate().is_ok());
        let error = ddp(BackendKind::Wgpu).validate().unwrap_err();
        assert_eq!(error.config_key().as_deref(), Some("backend.strategy"));
        assert!(error.to_string().contains("`wgpu` has none"), "{error}");
        // Two CPU devices are two workers on the one CPU.
        let two = BackendConfig {
            devices: vec![0, 1],
            ..BackendConfig::default()
        };
        assert_eq!(
            two.open_all().unwrap(),
            vec![Device::flex(), Device::flex()]
        );
    }

    #[test]
    fn remote_hosts_are_checked_before_any_connection() {
        let remote = |hosts: &[&str]| BackendConfig {
            kind: BackendKind::Remote,
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            ..BackendConfig::default()
        };
        let message = |config: BackendConfig| config.validate().unwrap_err().to_string();
        assert!(message(remote(&[])).contains("backend.hosts is empty"));
        for bad in [
            "127.0.0.1:3000",
            "http://a:3000",
            "ws://a",
            "ws://a:99999",
            "ws://",
        ] {
            let text = message(remote(&[bad]));
            assert!(text.contains(&format!("{bad:?}")), "{text}");
        }
        assert!(
            remote(&["ws://node-a:3000", "ws://10.0.0.2:3000/"])
                .validate()
                .is_ok()
        );
        let flex = BackendConfig {
            hosts: vec!["ws://a:1".into()],
            ..BackendConfig::default()
        };
        assert!(message(flex).contains("goes with kind = \"remote\", not `flex`"));
        // A closed port is said at once, by the OS.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let host = format!("ws://{}", listener.local_addr().unwrap());
        drop(listener);
        let reason = answers(&host).unwrap_err();
        assert!(reason.contains("cannot connect"), "{reason}");
    }

    #[test]
    fn unknown_kind_lists_the_valid_ones() {
        let error = toml::from_str::<BackendConfig>("kind = \"tpu\"").unwrap_err();
        let message = error.to_string();
        for kind in BackendKind::ALL {
            assert!(message.contains(kind.name()), "{message}");
        }
    }

    #[test]
    fn compiled_out_kind_names_its_feature() {
        let missing = BackendKind::ALL
            .into_iter()
            .find(|kind| !kind.is_compiled());
        let Some(kind) = missing else {
            println!("every backend is compiled into this build: nothing to check");
            return;
        };
        let error = open_device(&BackendConfig {
            kind,
            ..BackendConfig::default()
        })
        .unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains(&format!("`{}`", kind.cargo_feature())),
            "{message}"
        );
        assert!(message.contains("not compiled"), "{message}");
    }

    #[cfg(feature = "flex")]
    #[test]
    fn flex_kind_opens_a_flex_device() {
        let device = open_device(&BackendConfig::default()).unwrap();
        assert_eq!(device, Device::flex());
    }

    #[cfg(feature = "ndarray")]
    #[test]
    #[allow(deprecated)]
    fn ndarray_kind_opens_an_ndarray_device() {
        let config = BackendConfig {
            kind: BackendKind::Ndarray,
            ..BackendConfig::default()
        };
        assert_eq!(open_device(&config).unwrap(), Device::ndarray());
    }
}
