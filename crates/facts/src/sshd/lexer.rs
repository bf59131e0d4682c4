//! Splitting one sshd_config line into a keyword and its arguments, as OpenSSH's servconf.c
//! does: `strdelim()` for the keyword (whitespace or a single `=` ends it), then `argv_split()`
//! for the arguments (double or single quotes group, backslash escapes quotes, backslash and
//! unquoted spaces, an unquoted `#` at the start of a word ends the line).

/// What one line holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// Blank or comment.
    Empty,
    Directive {
        keyword: String,
        args: Vec<String>,
    },
}

/// sshd's WHITESPACE (misc.h), plus form feed which servconf.c strips at the end of a line.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n' | '\x0c')
}

/// Upper bound on the words of one line: an image's config is untrusted, and no real
/// directive comes close.
pub const MAX_ARGS: usize = 1024;

/// Why a line could not be split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LexError {
    /// Unbalanced quotes: sshd rejects the line and refuses to start.
    Quotes,
    /// More than [`MAX_ARGS`] words: our limit, not sshd's.
    TooManyArgs,
}

/// Split a line into keyword and arguments.
pub fn split(line: &str) -> Result<Line, LexError> {
    let line = line.trim_matches(is_space);
    if line.is_empty() || line.starts_with('#') {
        return Ok(Line::Empty);
    }
    let end = line
        .find(|c: char| is_space(c) || c == '=')
        .unwrap_or(line.len());
    let (keyword, mut rest) = line.split_at(end);
    // strdelim(): skip whitespace, then at most one '=' and the whitespace after it.
    rest = rest.trim_start_matches(is_space);
    if let Some(r) = rest.strip_prefix('=') {
        rest = r.trim_start_matches(is_space);
    }
    Ok(Line::Directive {
        keyword: keyword.to_string(),
        args: argv_split(rest)?,
    })
}

/// OpenSSH's `argv_split(s, .., terminate_on_comment = 1)`.
fn argv_split(s: &str) -> Result<Vec<String>, LexError> {
    let mut args = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|&c| c == ' ' || c == '\t').is_some() {}
        match chars.peek() {
            None | Some('#') => return Ok(args),
            Some(_) => {}
        }
        if args.len() >= MAX_ARGS {
            return Err(LexError::TooManyArgs);
        }
        let mut arg = String::new();
        let mut quote: Option<char> = None;
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.peek() {
                    Some(&n)
                        if n == '\'' || n == '"' || n == '\\' || (quote.is_none() && n == ' ') =>
                    {
                        arg.push(n);
                        chars.next();
                    }
                    // An unrecognised escape keeps its backslash.
                    _ => arg.push('\\'),
                },
                ' ' | '\t' if quote.is_none() => break,
                '"' | '\'' if quote.is_none() => quote = Some(c),
                c if Some(c) == quote => quote = None,
                c => arg.push(c),
            }
        }
        if quote.is_some() {
            return Err(LexError::Quotes);
        }
        args.push(arg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(k: &str, a: &[&str]) -> Result<Line, LexError> {
        Ok(Line::Directive {
            keyword: k.into(),
            args: a.iter().map(|s| s.to_string()).collect(),
        })
    }

    #[test]
    fn lines() {
        assert_eq!(split(""), Ok(Line::Empty));
        assert_eq!(split("   # comment"), Ok(Line::Empty));
        assert_eq!(split("Port 22"), d("Port", &["22"]));
        assert_eq!(split("  Port\t22  \r"), d("Port", &["22"]));
        assert_eq!(split("Port=22"), d("Port", &["22"]));
        assert_eq!(split("Port = 22"), d("Port", &["22"]));
        assert_eq!(split("Port =22 # trailing"), d("Port", &["22"]));
        assert_eq!(
            split("Banner \"/etc/my banner\""),
            d("Banner", &["/etc/my banner"])
        );
        assert_eq!(split("Banner '/a b'c"), d("Banner", &["/a bc"]));
        assert_eq!(split(r"Banner /a\ b x\y"), d("Banner", &["/a b", r"x\y"]));
        assert_eq!(
            split("AuthorizedKeysFile a#b c"),
            d("AuthorizedKeysFile", &["a#b", "c"])
        );
        assert_eq!(split("Banner \"/a"), Err(LexError::Quotes));
        assert_eq!(
            split(&"a ".repeat(MAX_ARGS + 2)),
            Err(LexError::TooManyArgs)
        );
        assert_eq!(split("UsePAM"), d("UsePAM", &[]));
        assert_eq!(split("Ünïcode ✓"), d("Ünïcode", &["✓"]));
    }
}
