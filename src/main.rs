//! `keywarden`: parse the command line, run it, print any error once.

use std::process::ExitCode;

fn main() -> ExitCode {
    match keywarden::cli::run() {
        Ok(code) => code,
        Err(err) => {
            // An error can quote a server's words: nothing in it may act on the terminal.
            let message = format!("{err:#}");
            eprintln!("keywarden: {}", keywarden::text::for_terminal(&message));
            ExitCode::FAILURE
        }
    }
}
