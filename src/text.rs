//! Text from other people made safe to show: which characters names may not hold, and how a string
//! from a server is written to a terminal. Control characters can rewrite a terminal (escape
//! sequences, a carriage return over a line); bidirectional formatting characters reorder what a
//! reader sees, so a name can look like another.

use std::borrow::Cow;
use std::fmt::Write as _;

/// A character no name, description or email may hold, and none is printed raw: C0 and C1 control
/// characters (NUL, newline, escape, DEL, …), bidirectional formatting characters, and the Unicode
/// line and paragraph separators.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// The characters [`is_unsafe`] refuses, as a regular-expression class body (ECMA-262, for the API
/// document's `pattern`s).
pub const UNSAFE_CLASS: &str =
    r"\u0000-\u001F\u007F-\u009F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069\u2028\u2029";

/// `Err` with a sentence naming `field` when `text` holds a character it may not.
pub fn check_field(field: &str, text: &str) -> Result<(), String> {
    match text.chars().find(|&c| is_unsafe(c)) {
        Some(c) => Err(format!(
            "{field}: must not contain control or bidirectional formatting characters \
             (found U+{:04X})",
            u32::from(c)
        )),
        None => Ok(()),
    }
}

/// A character that shows as nothing, so a name can hide a difference: zero-width spaces and
/// joiners, the word joiner, the byte-order mark, the soft hyphen, the Mongolian vowel separator.
/// Names may hold them (an emoji sequence needs the joiner); nothing prints them raw.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{180E}' | '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}'
    )
}

fn is_hidden(c: char) -> bool {
    is_unsafe(c) || is_invisible(c)
}

/// `text` with every unsafe or invisible character written as `\u{XXXX}`, for a terminal.
pub fn for_terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_hidden(c) {
            let _ = write!(out, "\\u{{{:04X}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Lines for a terminal: as [`for_terminal`], the line breaks kept.
pub fn for_terminal_lines(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c != '\n' && is_hidden(c)) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.split('\n')
            .map(|line| for_terminal(line))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// `text` for a desktop notification, whose body is markup to most daemons: `&`, `<` and `>`
/// escaped as entities, unsafe and invisible characters as `\u{XXXX}`.
pub fn for_notification(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in for_terminal(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON text (as serde_json writes it) with the unsafe and invisible characters serde_json leaves
/// raw inside strings (DEL, C1 controls, bidirectional formatting, zero-width) escaped as
/// `\uXXXX`. Newlines outside strings are layout and stay; inside strings serde_json has already
/// escaped them.
pub fn json_for_terminal(json: String) -> String {
    if !json.chars().any(|c| c != '\n' && is_hidden(c)) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 8);
    for c in json.chars() {
        if c != '\n' && is_hidden(c) {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_characters_and_markup_never_pass_raw() {
        assert_eq!(for_terminal("a\u{200B}b"), "a\\u{200B}b");
        assert_eq!(for_terminal("plain"), "plain");
        assert_eq!(
            for_notification("<b>x</b> & \u{1b}]52;c;"),
            "&lt;b&gt;x&lt;/b&gt; &amp; \\u{001B}]52;c;"
        );
    }

    #[test]
    fn unsafe_characters_are_named_and_escaped() {
        for bad in [
            "a\u{1b}[2Jb",
            "nul\0",
            "two\nlines",
            "evil\u{202E}txt.exe",
            "c1\u{9b}x",
        ] {
            assert!(check_field("name", bad).is_err(), "{bad:?}");
            assert!(!for_terminal(bad).chars().any(is_unsafe), "{bad:?}");
        }
        assert!(
            check_field("name", "a\u{202E}")
                .unwrap_err()
                .contains("name: must not contain")
        );
        assert_eq!(for_terminal("ok ünïcode ✓"), "ok ünïcode ✓");
        assert_eq!(for_terminal("a\u{1b}b"), "a\\u{001B}b");
    }

    #[test]
    fn json_keeps_its_layout_and_escapes_the_rest() {
        let json = serde_json::to_string_pretty(&serde_json::json!({"n": "x\u{202E}\u{7f}\u{1b}"}))
            .unwrap();
        let safe = json_for_terminal(json);
        assert!(safe.contains('\n'));
        assert!(!safe.chars().any(|c| c != '\n' && is_unsafe(c)), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["n"], "x\u{202E}\u{7f}\u{1b}");
    }
}
