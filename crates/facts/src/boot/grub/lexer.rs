//! GRUB script words and commands (GRUB manual, "Shell-like scripting").
//!
//! - Words are separated by blanks; `;` and newline end a command; `#` at the start of a word
//!   starts a comment.
//! - Quoting: a backslash outside quotes keeps the next character literally (and a backslash
//!   before a newline joins lines); single quotes keep everything literally; double quotes keep
//!   everything but `$` (expansion) and `\` before `$`, `"`, `\` or a newline.
//! - Variables: `$name`, `${name}`, positional `$1`…, and `$?`, `$#`, `$*`, `$@`. Expansion
//!   happens when a command runs, so words keep their parts.
//! - Reserved words (`if then elif else fi function menuentry submenu for while until do done
//!   { }`) count only when they are a whole unquoted word in command position.

/// One piece of a word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Unquoted literal text.
    Lit(String),
    /// Text from quotes: never split, never a reserved word.
    Quoted(String),
    /// A variable; `quoted` when inside double quotes (then its value is not split).
    Var { name: String, quoted: bool },
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Word {
    pub parts: Vec<Part>,
}

impl Word {
    /// The word when it is one unquoted literal (reserved word candidates, `{`, `}`).
    pub fn bare(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [Part::Lit(s)] => Some(s),
            _ => None,
        }
    }

    /// The word as written, approximately (for messages).
    pub fn display(&self) -> String {
        let mut s = String::new();
        for p in &self.parts {
            match p {
                Part::Lit(t) => s.push_str(t),
                Part::Quoted(t) => s.push_str(t),
                Part::Var { name, .. } => {
                    s.push_str("${");
                    s.push_str(name);
                    s.push('}');
                }
            }
        }
        s
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    Word(Word, u32),
    /// End of a command (`;` or newline), with its line.
    Sep(u32),
}

/// Split a script into tokens. Never fails: an unterminated quote ends at the end of the
/// text (GRUB would ask for more input), reported in `warnings`.
pub fn lex(text: &str, warnings: &mut Vec<String>) -> Vec<Tok> {
    let c: Vec<char> = text.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    let mut line = 1u32;
    let mut word = Word::default();
    let mut in_word = false;
    let mut word_line = 1u32;

    fn push_lit(word: &mut Word, ch: char, quoted: bool) {
        match (word.parts.last_mut(), quoted) {
            (Some(Part::Lit(s)), false) | (Some(Part::Quoted(s)), true) => s.push(ch),
            _ => word.parts.push(if quoted {
                Part::Quoted(ch.to_string())
            } else {
                Part::Lit(ch.to_string())
            }),
        }
    }

    macro_rules! end_word {
        () => {
            if in_word {
                toks.push(Tok::Word(std::mem::take(&mut word), word_line));
                in_word = false;
            }
        };
    }
    macro_rules! start_word {
        () => {
            if !in_word {
                in_word = true;
                word_line = line;
            }
        };
    }

    while i < c.len() {
        let ch = c[i];
        match ch {
            ' ' | '\t' | '\r' => {
                end_word!();
                i += 1;
            }
            '\n' | ';' => {
                end_word!();
                toks.push(Tok::Sep(line));
                if ch == '\n' {
                    line += 1;
                }
                i += 1;
            }
            '#' if !in_word => {
                while i < c.len() && c[i] != '\n' {
                    i += 1;
                }
            }
            '\\' => {
                match c.get(i + 1) {
                    Some('\n') => line += 1,
                    Some(&n) => {
                        start_word!();
                        // An escaped character is literal but cannot make a reserved word.
                        push_lit(&mut word, n, true);
                    }
                    None => {}
                }
                i += 2;
            }
            '\'' => {
                start_word!();
                // An empty '' still makes a (quoted) word.
                word.parts.push(Part::Quoted(String::new()));
                i += 1;
                let start_line = line;
                while i < c.len() && c[i] != '\'' {
                    if c[i] == '\n' {
                        line += 1;
                    }
                    push_lit(&mut word, c[i], true);
                    i += 1;
                }
                if i >= c.len() {
                    warnings.push(format!("line {start_line}: unterminated single quote"));
                }
                i += 1;
            }
            '"' => {
                start_word!();
                word.parts.push(Part::Quoted(String::new()));
                i += 1;
                let start_line = line;
                while i < c.len() && c[i] != '"' {
                    match c[i] {
                        '\\' if c.get(i + 1) == Some(&'\n') => {
                            line += 1;
                            i += 2;
                        }
                        '\\' if matches!(c.get(i + 1), Some('$' | '"' | '\\')) => {
                            push_lit(&mut word, c[i + 1], true);
                            i += 2;
                        }
                        '$' => {
                            i = variable(&c, i, &mut word, true, |w, ch| push_lit(w, ch, true));
                        }
                        other => {
                            if other == '\n' {
                                line += 1;
                            }
                            push_lit(&mut word, other, true);
                            i += 1;
                        }
                    }
                }
                if i >= c.len() {
                    warnings.push(format!("line {start_line}: unterminated double quote"));
                }
                i += 1;
            }
            '$' => {
                start_word!();
                i = variable(&c, i, &mut word, false, |w, ch| push_lit(w, ch, false));
            }
            _ => {
                start_word!();
                push_lit(&mut word, ch, false);
                i += 1;
            }
        }
    }
    if in_word {
        toks.push(Tok::Word(word, word_line));
    }
    toks.push(Tok::Sep(line));
    toks
}

/// A variable reference at `c[i] == '$'`; a lone `$` is literal. Returns the next index.
fn variable(
    c: &[char],
    i: usize,
    word: &mut Word,
    quoted: bool,
    lit: impl Fn(&mut Word, char),
) -> usize {
    let mut j = i + 1;
    let name: String;
    match c.get(j) {
        Some('{') => {
            let start = j + 1;
            let mut k = start;
            while k < c.len() && c[k] != '}' && c[k] != '\n' && k - start < 256 {
                k += 1;
            }
            if c.get(k) != Some(&'}') {
                lit(word, '$');
                return i + 1;
            }
            name = c[start..k].iter().collect();
            j = k + 1;
        }
        Some(&d) if d.is_ascii_digit() => {
            let start = j;
            while j < c.len() && c[j].is_ascii_digit() {
                j += 1;
            }
            name = c[start..j].iter().collect();
        }
        Some(&s) if matches!(s, '?' | '#' | '*' | '@') => {
            name = s.to_string();
            j += 1;
        }
        Some(&a) if a.is_ascii_alphabetic() || a == '_' => {
            let start = j;
            while j < c.len() && (c[j].is_ascii_alphanumeric() || c[j] == '_') {
                j += 1;
            }
            name = c[start..j].iter().collect();
        }
        _ => {
            lit(word, '$');
            return i + 1;
        }
    }
    word.parts.push(Part::Var { name, quoted });
    j
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<Vec<Part>> {
        lex(text, &mut Vec::new())
            .into_iter()
            .filter_map(|t| match t {
                Tok::Word(w, _) => Some(w.parts),
                Tok::Sep(_) => None,
            })
            .collect()
    }

    #[test]
    fn quoting() {
        let w = words(r#"menuentry 'Debian GNU/Linux' $menuentry_id_option "a${x}b\$" c\ d # c"#);
        assert_eq!(w.len(), 5);
        assert_eq!(w[1], vec![Part::Quoted("Debian GNU/Linux".into())]);
        assert_eq!(
            w[2],
            vec![Part::Var {
                name: "menuentry_id_option".into(),
                quoted: false
            }]
        );
        assert_eq!(
            w[3],
            vec![
                Part::Quoted("a".into()),
                Part::Var {
                    name: "x".into(),
                    quoted: true
                },
                Part::Quoted("b$".into())
            ]
        );
        assert_eq!(
            w[4],
            vec![
                Part::Lit("c".into()),
                Part::Quoted(" ".into()),
                Part::Lit("d".into())
            ]
        );
    }

    #[test]
    fn lines_and_separators() {
        let mut warn = Vec::new();
        let t = lex("set a=1; set b=2\\\n  x\n'open", &mut warn);
        let lines: Vec<u32> = t
            .iter()
            .filter_map(|t| match t {
                Tok::Word(_, l) => Some(*l),
                _ => None,
            })
            .collect();
        assert_eq!(lines, [1, 1, 1, 1, 2, 3]);
        assert_eq!(warn.len(), 1);
        // A lone dollar and an unclosed brace are literal.
        assert_eq!(words("$ ${x")[0], vec![Part::Lit("$".into())]);
    }
}
