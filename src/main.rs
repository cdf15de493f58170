//! `keywarden`: parse the command line, run it, print any error once.

use std::process::ExitCode;

fn main() -> ExitCode {
    match keywarden::cli::run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("keywarden: {err:#}");
            ExitCode::FAILURE
        }
    }
}
