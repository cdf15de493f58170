//! `keywarden`: parse the command line, run it, print any error once.

use std::process::ExitCode;

fn main() -> ExitCode {
    match keywarden::cli::run() {
        Ok(code) => code,
        Err(err) => {
            // Each cause once: a cause whose words its error already quotes is not repeated.
            let mut message = err.to_string();
            for cause in err.chain().skip(1) {
                let text = cause.to_string();
                if !message.contains(&text) {
                    message.push_str(": ");
                    message.push_str(&text);
                }
            }
            // An error can quote a server's words: nothing in it may act on the terminal.
            eprintln!("keywarden: {}", keywarden::text::for_terminal(&message));
            ExitCode::FAILURE
        }
    }
}
