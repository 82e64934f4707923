fn main() -> std::process::ExitCode {
    zoo_cli::cli::main()
}
