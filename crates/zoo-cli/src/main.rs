fn main() -> std::process::ExitCode {
    // Rust ignores SIGPIPE, so `zoo data … | head` would panic on its next print once `head`
    // has gone; restore the default, as every Unix command line tool has it: exit quietly.
    // Done here, before any thread starts.
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to its default, with no other thread running.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    zoo_cli::cli::main()
}
