//! Ctrl-C and SIGTERM during a training: the first ends it after the current step, so that
//! `summary.json` (status `interrupted`), `model.bpk` and the curves are written as for any
//! other end; a second one quits at once (exit 130). Outside a training they quit at once, as
//! without a handler.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};

use zoo_train::StopHandle;

/// The training the next signal stops, if one runs.
static CURRENT: Mutex<Option<StopHandle>> = Mutex::new(None);

/// The signal that stopped the last training (0: none).
static STOPPED_BY: AtomicI32 = AtomicI32::new(0);

/// The exit code of a training a signal stopped: 128 + the signal's number (130 for SIGINT,
/// 143 for SIGTERM), as a shell reports a process killed by it.
pub fn exit_code() -> u8 {
    match STOPPED_BY.load(Ordering::Relaxed) {
        0 => 130,
        signal => (128 + signal).clamp(0, 255) as u8,
    }
}

/// A stop handle for the training about to start, stopped by SIGINT/SIGTERM until the guard
/// it returns is dropped.
pub fn stop_on_signals() -> (StopHandle, Registration) {
    install();
    let handle = StopHandle::default();
    *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle.clone());
    (handle, Registration)
}

/// Unregisters the training's stop handle when dropped.
pub struct Registration;

impl Drop for Registration {
    fn drop(&mut self) {
        *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

#[cfg(unix)]
fn install() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
            return; // the default handlers stay: the process is killed, as before
        };
        std::thread::spawn(move || {
            let mut stopping = false;
            for signal in signals.forever() {
                let name = if signal == SIGINT {
                    "SIGINT"
                } else {
                    "SIGTERM"
                };
                let current = CURRENT.lock().unwrap_or_else(|e| e.into_inner()).clone();
                match current {
                    Some(handle) if !stopping => {
                        stopping = true;
                        eprintln!(
                            "\n{name}: stopping after this step and writing the run's files \
                             (again to quit at once)"
                        );
                        STOPPED_BY.store(signal, Ordering::Relaxed);
                        handle.stop(&format!("interrupted by {name}"));
                    }
                    _ => std::process::exit(128 + signal),
                }
            }
        });
    });
}

#[cfg(not(unix))]
fn install() {}
