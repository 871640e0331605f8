//! `duty`: the dutyroom console and command-line client. See `duty --help`.

fn main() -> std::process::ExitCode {
    dutyroom_console::cli::main()
}
