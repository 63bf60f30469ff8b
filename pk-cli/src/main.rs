fn main() -> std::process::ExitCode {
    pk_cli::run(std::env::args_os())
}
