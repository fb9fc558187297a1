//! The `quiver` command; see `quiver --help`.

fn main() -> std::process::ExitCode {
    quiver_cli::main_with_args(std::env::args_os())
}
