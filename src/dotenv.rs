//! `.env` files as developers write them: `NAME=value` lines, `export NAME=value`, `#` comments
//! (whole lines, or after an unquoted value), blank lines, values in single quotes (taken as they
//! are), in double quotes (with `\n`, `\t`, `\"`, `\\`) or bare (trimmed).

/// The variables of `text`, in order; an error names the line that is not `NAME=value`.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, String> {
    Ok(parse_lines(text)?
        .into_iter()
        .map(|v| (v.name, v.value))
        .collect())
}

/// A variable and where it is: its line (from 0) and whether it was `export`ed.
pub struct Variable {
    pub line: usize,
    pub exported: bool,
    pub name: String,
    pub value: String,
}

/// As [`parse`], with where each variable is, to write a line back.
pub fn parse_lines(text: &str) -> Result<Vec<Variable>, String> {
    let mut variables = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let exported = line.starts_with("export ");
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let bad = || format!("line {}: not NAME=value", number + 1);
        let (name, value) = line.split_once('=').ok_or_else(bad)?;
        let name = name.trim();
        if !is_variable_name(name) {
            return Err(format!(
                "line {}: {:?} is not a variable name",
                number + 1,
                crate::text::for_terminal(name)
            ));
        }
        let value = value.trim_start();
        let quoted =
            if let Some(rest) = value.strip_prefix('\'') {
                let end = rest.find('\'').ok_or_else(|| {
                    format!("line {}: the single quote is not closed", number + 1)
                })?;
                Some((rest[..end].to_string(), &rest[end + 1..]))
            } else if let Some(rest) = value.strip_prefix('"') {
                Some(double_quoted(rest).ok_or_else(|| {
                    format!("line {}: the double quote is not closed", number + 1)
                })?)
            } else {
                None
            };
        let value = match quoted {
            // After the closing quote only a comment may follow: anything else would be lost.
            Some((value, after)) => {
                let after = after.trim_start();
                if !after.is_empty() && !after.starts_with('#') {
                    return Err(format!("line {}: text after the closing quote", number + 1));
                }
                value
            }
            // A comment starts at a `#` after a space or a tab.
            None => match value
                .char_indices()
                .find(|&(i, c)| c == '#' && i > 0 && value[..i].ends_with([' ', '\t']))
            {
                Some((comment, _)) => value[..comment].trim_end().to_string(),
                None => value.trim_end().to_string(),
            },
        };
        variables.push(Variable {
            line: number,
            exported,
            name: name.to_string(),
            value,
        });
    }
    Ok(variables)
}

/// Whether `name` is a variable's name as shells take it: a letter or `_`, then letters, digits
/// and `_`.
pub fn is_variable_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The value of a double-quoted string and what follows its closing quote. `\n`, `\t`, `\r`,
/// `\"` and `\\` are escapes; any other backslash is kept (`"C:\dir"`, `"\d+"`).
fn double_quoted(rest: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &rest[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => value.push('\n'),
                't' => value.push('\t'),
                'r' => value.push('\r'),
                escaped @ ('"' | '\\') => value.push(escaped),
                other => {
                    value.push('\\');
                    value.push(other);
                }
            },
            other => value.push(other),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_quotes_and_export_as_developers_write_them() {
        let text = "# the testo key\n\
                    TESTO_KEY=kw://tracked/testo-prod\n\
                    \n\
                    export REGION = eu-west-1   # where\n\
                    GREETING=\"hello \\\"world\\\"\\n\"\n\
                    LITERAL='a # b \\n'\n\
                    EMPTY=\n\
                    URL=https://example.com/#anchor\n";
        assert_eq!(
            parse(text).unwrap(),
            [
                ("TESTO_KEY", "kw://tracked/testo-prod"),
                ("REGION", "eu-west-1"),
                ("GREETING", "hello \"world\"\n"),
                ("LITERAL", "a # b \\n"),
                ("EMPTY", ""),
                ("URL", "https://example.com/#anchor"),
            ]
            .map(|(n, v)| (n.to_string(), v.to_string()))
        );
        assert!(parse("no equals sign").unwrap_err().contains("line 1"));
        assert!(parse("1BAD=x").unwrap_err().contains("not a variable name"));
        assert!(parse("A='open").unwrap_err().contains("single quote"));
        // Found in review: values were changed without a word.
        assert_eq!(parse(r#"P="C:\dir\d+""#).unwrap()[0].1, r"C:\dir\d+");
        assert!(
            parse("A='x'y")
                .unwrap_err()
                .contains("after the closing quote")
        );
        assert_eq!(parse("A='x' # fine").unwrap()[0].1, "x");
        assert_eq!(parse("A=b\t# tabbed comment").unwrap()[0].1, "b");
    }
}
