//! The `zoo` binary: process-wide setup, done here before any thread starts (environment
//! variables, signal dispositions and allocator tunables are not safe to change later), then
//! the command line (`zoo_cli::cli`).

fn main() -> std::process::ExitCode {
    restore_sigpipe();
    keep_freed_memory();
    quiet_wayland();
    if let Err(message) = cpu_default_device() {
        eprintln!("error: {message}");
        return std::process::ExitCode::from(2);
    }
    zoo_cli::cli::main()
}

/// Rust ignores SIGPIPE, so `zoo data … | head` would panic on its next print once `head` has
/// gone; restore the default, as every Unix command line tool has it: exit quietly.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to its default, with no other thread running.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// glibc returns every freed block above its mmap threshold (128 KiB at first) to the kernel,
/// and a training step frees and reallocates megabytes of activations: each step then pays
/// for page faults and zeroing fresh pages. Keeping freed memory in the process made the
/// Flex training step faster (the book's "Using a model crate" chapter, on the allocator); peak memory is unchanged, freed
/// memory is only reused instead of returned.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const M_TRIM_THRESHOLD: i32 = -1;
        const M_TOP_PAD: i32 = -2;
        const M_MMAP_THRESHOLD: i32 = -3;
        // SAFETY: mallopt only sets allocator tunables; called before any thread exists.
        unsafe {
            libc::mallopt(M_MMAP_THRESHOLD, 32 << 20); // glibc's maximum on 64-bit
            libc::mallopt(M_TRIM_THRESHOLD, 1 << 30);
            libc::mallopt(M_TOP_PAD, 64 << 20);
        }
    }
}

/// libwayland, loaded by the Vulkan loader when a wgpu device opens, prints "XDG_RUNTIME_DIR is
/// invalid or not set" on every open where the variable is unset (headless machines, CI). A
/// private empty directory silences it (`zoo_cli::process::private_runtime_dir`); nothing is
/// ever written there.
fn quiet_wayland() {
    #[cfg(unix)]
    if std::env::var_os("XDG_RUNTIME_DIR").is_none()
        && let Some(dir) = zoo_cli::process::private_runtime_dir(&std::env::temp_dir())
    {
        // SAFETY: called first thing in `main`, before any thread exists.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
    }
}

/// Burn allocates on `Device::default()` where its caller names no device — notably
/// `ModuleOptimizer::load_record`, which `zoo train --resume` reaches through Burn's
/// checkpointer — and in a build with wgpu that default is a wgpu device, whose opening panics
/// on a machine without a GPU or a software Vulkan (a headless server, a container without
/// Mesa), even for a run on Flex. Burn's own override, `BURN_DEVICE`, pointed at a CPU backend
/// built in keeps those allocations on the CPU, which every machine has; Burn moves the
/// optimizer's state to the parameters' device at the next step. A `BURN_DEVICE` the user set
/// is kept if it names a backend built in (Burn panics on any other, and only when it is
/// first used); a build without a CPU backend (GPU only) keeps Burn's default.
fn cpu_default_device() -> Result<(), zoo_cli::error::Error> {
    let built_in: Vec<&str> = [
        ("flex", cfg!(feature = "flex")),
        ("ndarray", cfg!(feature = "ndarray")),
        ("wgpu", cfg!(any(feature = "wgpu", feature = "vulkan"))),
        ("vulkan", cfg!(feature = "vulkan")),
        ("cuda", cfg!(feature = "cuda")),
    ]
    .into_iter()
    .filter_map(|(name, built)| built.then_some(name))
    .collect();
    if let Some(set) = std::env::var_os("BURN_DEVICE") {
        let set = set.to_string_lossy().to_lowercase();
        return match built_in.contains(&set.as_str()) {
            true => Ok(()),
            false => Err(zoo_cli::error::Error::Environment {
                variable: "BURN_DEVICE",
                value: set,
                message: format!(
                    "Burn's default-device override names no backend built into this zoo \
                     (built in: {}); unset it (zoo then uses the CPU for Burn's default \
                     device) or name one of those",
                    built_in.join(", ")
                ),
            }),
        };
    }
    if let Some(cpu) = built_in.iter().find(|b| ["flex", "ndarray"].contains(b)) {
        // SAFETY: called first thing in `main`, before any thread exists.
        unsafe { std::env::set_var("BURN_DEVICE", cpu) };
    }
    Ok(())
}
