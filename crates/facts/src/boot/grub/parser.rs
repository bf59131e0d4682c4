//! GRUB script commands from tokens: simple commands, `if`/`elif`/`else`/`fi`,
//! `menuentry`/`submenu` blocks, `function` definitions and loops (GRUB manual, "Shell-like
//! scripting" and "menuentry"/"submenu" in the command list).

use super::lexer::{Tok, Word};
use crate::boot::MAX_NESTING;

#[derive(Debug, Clone)]
pub enum Cmd {
    Simple {
        words: Vec<Word>,
        line: u32,
    },
    If {
        /// (condition, body) for `if` and each `elif`.
        branches: Vec<(Vec<Cmd>, Vec<Cmd>)>,
        otherwise: Option<Vec<Cmd>>,
        line: u32,
    },
    /// `menuentry` (submenu = false) or `submenu` with its arguments (title, options) and body.
    Menu {
        submenu: bool,
        args: Vec<Word>,
        body: Vec<Cmd>,
        line: u32,
    },
    /// A `function` definition: skipped (calls are ignored).
    Function,
    /// `for`/`while`/`until`: not evaluated.
    Loop {
        line: u32,
    },
}

pub struct Parser<'a> {
    toks: &'a [Tok],
    pos: usize,
    pub errors: Vec<String>,
}

const RESERVED_END: [&str; 6] = ["then", "elif", "else", "fi", "do", "done"];

impl<'a> Parser<'a> {
    pub fn new(toks: &'a [Tok]) -> Self {
        Parser {
            toks,
            pos: 0,
            errors: Vec::new(),
        }
    }

    pub fn parse(mut self) -> (Vec<Cmd>, Vec<String>) {
        let mut cmds = self.list(&[], 0);
        // Stray terminators at top level: skip them and go on.
        while self.pos < self.toks.len() {
            if let Some((w, line)) = self.peek_word() {
                self.errors.push(format!("line {line}: unexpected '{w}'"));
                self.pos += 1;
            }
            let more = self.list(&[], 0);
            cmds.extend(more);
        }
        (cmds, self.errors)
    }

    fn peek_word(&self) -> Option<(String, u32)> {
        match self.toks.get(self.pos) {
            Some(Tok::Word(w, l)) => Some((w.bare().unwrap_or("").to_string(), *l)),
            _ => None,
        }
    }

    fn skip_seps(&mut self) {
        while let Some(Tok::Sep(_)) = self.toks.get(self.pos) {
            self.pos += 1;
        }
    }

    /// Commands until one of `ends` (left unconsumed) in command position, or the end.
    fn list(&mut self, ends: &[&str], depth: usize) -> Vec<Cmd> {
        let mut out = Vec::new();
        loop {
            self.skip_seps();
            let Some((w, line)) = self.peek_word() else {
                return out;
            };
            if ends.contains(&w.as_str()) || (ends.is_empty() && is_terminator(&w)) {
                return out;
            }
            if depth >= MAX_NESTING && matches!(w.as_str(), "if" | "menuentry" | "submenu") {
                self.errors.push(format!(
                    "line {line}: nesting deeper than {MAX_NESTING}; block skipped"
                ));
                self.skip_block(&w);
                continue;
            }
            match w.as_str() {
                "if" => out.push(self.if_block(line, depth + 1)),
                "menuentry" | "submenu" => out.push(self.menu(w == "submenu", line, depth + 1)),
                "function" => {
                    self.pos += 1;
                    self.skip_braced();
                    out.push(Cmd::Function);
                }
                "for" | "while" | "until" => {
                    self.skip_block(&w);
                    out.push(Cmd::Loop { line });
                }
                "{" => {
                    // A bare group: evaluate its content in place.
                    self.pos += 1;
                    out.extend(self.list(&["}"], depth + 1));
                    self.expect("}", line);
                }
                _ => out.push(self.simple()),
            }
        }
    }

    fn simple(&mut self) -> Cmd {
        let mut words = Vec::new();
        let mut line = 0;
        while let Some(Tok::Word(w, l)) = self.toks.get(self.pos) {
            if words.is_empty() {
                line = *l;
            } else if w.bare() == Some("}") {
                // `... }` closing a block on the same line.
                break;
            }
            words.push(w.clone());
            self.pos += 1;
        }
        Cmd::Simple { words, line }
    }

    fn expect(&mut self, what: &str, line: u32) -> bool {
        self.skip_seps();
        match self.peek_word() {
            Some((w, _)) if w == what => {
                self.pos += 1;
                true
            }
            _ => {
                self.errors.push(format!("line {line}: missing '{what}'"));
                false
            }
        }
    }

    fn if_block(&mut self, line: u32, depth: usize) -> Cmd {
        self.pos += 1; // if
        let mut branches = Vec::new();
        let mut otherwise = None;
        loop {
            let cond = self.list(&["then"], depth);
            if !self.expect("then", line) {
                break;
            }
            let body = self.list(&["elif", "else", "fi"], depth);
            branches.push((cond, body));
            match self.peek_word() {
                Some((w, _)) if w == "elif" => {
                    self.pos += 1;
                }
                Some((w, _)) if w == "else" => {
                    self.pos += 1;
                    otherwise = Some(self.list(&["fi"], depth));
                    self.expect("fi", line);
                    break;
                }
                _ => {
                    self.expect("fi", line);
                    break;
                }
            }
        }
        Cmd::If {
            branches,
            otherwise,
            line,
        }
    }

    fn menu(&mut self, submenu: bool, line: u32, depth: usize) -> Cmd {
        self.pos += 1;
        let mut args = Vec::new();
        loop {
            match self.toks.get(self.pos) {
                Some(Tok::Word(w, _)) if w.bare() == Some("{") => {
                    self.pos += 1;
                    break;
                }
                Some(Tok::Word(w, _)) => {
                    args.push(w.clone());
                    self.pos += 1;
                }
                // GRUB accepts the brace on a following line.
                Some(Tok::Sep(_)) => self.pos += 1,
                None => {
                    self.errors
                        .push(format!("line {line}: menu entry without a body"));
                    return Cmd::Menu {
                        submenu,
                        args,
                        body: Vec::new(),
                        line,
                    };
                }
            }
        }
        let body = self.list(&["}"], depth);
        self.expect("}", line);
        Cmd::Menu {
            submenu,
            args,
            body,
            line,
        }
    }

    /// Skip to the `}` matching the next `{`.
    fn skip_braced(&mut self) {
        let mut level = 0usize;
        while let Some(t) = self.toks.get(self.pos) {
            self.pos += 1;
            if let Tok::Word(w, _) = t {
                match w.bare() {
                    Some("{") => level += 1,
                    Some("}") => {
                        level = level.saturating_sub(1);
                        if level == 0 {
                            return;
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// Skip a block that starts here: braces for menus, `fi` for if, `done` for loops.
    fn skip_block(&mut self, w: &str) {
        match w {
            "menuentry" | "submenu" => self.skip_braced(),
            _ => {
                let (open, close): (&[&str], &str) = if w == "if" {
                    (&["if"], "fi")
                } else {
                    (&["for", "while", "until"], "done")
                };
                let mut level = 0usize;
                let mut at_cmd = true;
                while let Some(t) = self.toks.get(self.pos) {
                    self.pos += 1;
                    match t {
                        Tok::Sep(_) => at_cmd = true,
                        Tok::Word(word, _) => {
                            let b = word.bare().unwrap_or("");
                            if at_cmd && open.contains(&b) {
                                level += 1;
                            } else if at_cmd && b == close {
                                level = level.saturating_sub(1);
                                if level == 0 {
                                    return;
                                }
                            }
                            at_cmd = matches!(b, "then" | "do" | "else");
                        }
                    }
                }
            }
        }
    }
}

fn is_terminator(w: &str) -> bool {
    RESERVED_END.contains(&w) || w == "}"
}
