//! `zoo serve`: this machine's device for `[backend] kind = "remote"` clients, through Burn
//! Remote's WebSocket server (cargo feature `remote`). The protocol has no authentication and
//! no encryption: it listens on 127.0.0.1 unless told otherwise, and belongs on a private
//! network only.

use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::backend::BackendKind;

/// Serves one device of `backend` on `bind:port` (port 0: one the OS picks, printed) until the
/// process is stopped (Ctrl-C, SIGTERM).
pub fn serve(port: u16, bind: &str, backend: BackendKind) -> Result<ExitCode> {
    if backend == BackendKind::Remote {
        bail!("zoo serve --backend remote: a server serves a local backend (flex, cuda, ...)");
    }
    if !BackendKind::Remote.is_compiled() {
        let _ = (port, bind);
        bail!(
            "zoo serve needs the cargo feature `remote` (Burn Remote), which this zoo binary was \
             built without: `cargo build --release -p zoo-cli --features remote`, or `just \
             build-remote`"
        );
    }
    #[cfg(feature = "remote")]
    {
        use anyhow::Context;
        use burn::server::{RemoteServer, WebSocketTransport};
        use std::io::Write;

        let device = crate::backend::open_device(&crate::backend::BackendConfig {
            kind: backend,
            ..Default::default()
        })?;
        let listener = std::net::TcpListener::bind((bind, port))
            .with_context(|| format!("zoo serve: cannot listen on {bind}:{port}"))?;
        let address = listener.local_addr()?;
        println!(
            "zoo serve: {} on ws://{address} (no authentication, not encrypted: keep it on a \
             private network); Ctrl-C stops it",
            backend.name()
        );
        std::io::stdout().flush()?;
        RemoteServer::new([device])
            .serve(WebSocketTransport::from_listener(listener))
            .map_err(|error| anyhow::anyhow!("zoo serve on ws://{address}: {error}"))?;
    }
    Ok(ExitCode::SUCCESS)
}
