//! GRUB's `test` / `[ … ]` expressions (GRUB manual, command "test"), three-valued: a value
//! known only at boot makes the result unknown.
//!
//! Grammar: `expr := and (-o and)*`, `and := not (-a not)*`, `not := ! not | primary`,
//! `primary := ( expr ) | -z s | -n s | -e/-f/-d/-s file | s op s | s`, with `op` one of
//! `=`, `==`, `!=`, `<`, `<=`, `>`, `>=`, `-eq`, `-ne`, `-lt`, `-le`, `-gt`, `-ge`.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tri {
    True,
    False,
    Unknown,
}

impl Tri {
    fn from(b: bool) -> Tri {
        if b { Tri::True } else { Tri::False }
    }
    fn not(self) -> Tri {
        match self {
            Tri::True => Tri::False,
            Tri::False => Tri::True,
            Tri::Unknown => Tri::Unknown,
        }
    }
    fn and(self, o: Tri) -> Tri {
        match (self, o) {
            (Tri::False, _) | (_, Tri::False) => Tri::False,
            (Tri::True, Tri::True) => Tri::True,
            _ => Tri::Unknown,
        }
    }
    fn or(self, o: Tri) -> Tri {
        match (self, o) {
            (Tri::True, _) | (_, Tri::True) => Tri::True,
            (Tri::False, Tri::False) => Tri::False,
            _ => Tri::Unknown,
        }
    }
}

type Arg = (String, bool);

/// Evaluate `args` (each with "holds a boot-time value"); `file(path, op)` answers file tests.
pub fn eval(args: &[Arg], file: &dyn Fn(&str, char) -> Tri) -> Tri {
    let mut p = P {
        a: args,
        i: 0,
        file,
        depth: 0,
    };
    if args.is_empty() {
        return Tri::False;
    }
    let r = p.or();
    if p.i < args.len() { Tri::Unknown } else { r }
}

struct P<'a> {
    a: &'a [Arg],
    i: usize,
    file: &'a dyn Fn(&str, char) -> Tri,
    depth: usize,
}

impl<'a> P<'a> {
    fn peek(&self, k: usize) -> Option<&'a str> {
        self.a.get(self.i + k).map(|(s, _)| s.as_str())
    }

    fn or(&mut self) -> Tri {
        let mut r = self.and();
        while self.peek(0) == Some("-o") {
            self.i += 1;
            r = r.or(self.and());
        }
        r
    }

    fn and(&mut self) -> Tri {
        let mut r = self.not();
        while self.peek(0) == Some("-a") {
            self.i += 1;
            r = r.and(self.not());
        }
        r
    }

    fn not(&mut self) -> Tri {
        if self.peek(0) == Some("!") && self.peek(1).is_some() {
            self.i += 1;
            self.depth += 1;
            if self.depth > 64 {
                return Tri::Unknown;
            }
            return self.not().not();
        }
        self.primary()
    }

    fn primary(&mut self) -> Tri {
        let Some(first) = self.peek(0) else {
            return Tri::False;
        };
        if first == "(" {
            self.depth += 1;
            if self.depth > 64 {
                self.i = self.a.len();
                return Tri::Unknown;
            }
            self.i += 1;
            let r = self.or();
            if self.peek(0) == Some(")") {
                self.i += 1;
            }
            return r;
        }
        // Binary operators take precedence when a third word follows.
        if let (Some(op), Some(_)) = (self.peek(1), self.peek(2))
            && is_binary(op)
        {
            let (l, lu) = self.a[self.i].clone();
            let (r, ru) = self.a[self.i + 2].clone();
            self.i += 3;
            if lu || ru {
                return Tri::Unknown;
            }
            return binary(&l, op, &r);
        }
        if let Some(arg) = self.peek(1) {
            let unknown = self.a[self.i + 1].1;
            let op = match first {
                "-z" | "-n" => Some(first),
                "-e" | "-f" | "-d" | "-s" => Some(first),
                _ => None,
            };
            if let Some(op) = op {
                self.i += 2;
                return match op {
                    "-z" if !unknown => Tri::from(arg.is_empty()),
                    "-n" if !unknown => Tri::from(!arg.is_empty()),
                    "-z" | "-n" => Tri::Unknown,
                    _ => (self.file)(arg, op.chars().nth(1).unwrap_or('e')),
                };
            }
        }
        let (s, u) = self.a[self.i].clone();
        self.i += 1;
        if u {
            Tri::Unknown
        } else {
            Tri::from(!s.is_empty())
        }
    }
}

fn is_binary(op: &str) -> bool {
    matches!(
        op,
        "=" | "==" | "!=" | "<" | "<=" | ">" | ">=" | "-eq" | "-ne" | "-lt" | "-le" | "-gt" | "-ge"
    )
}

fn binary(l: &str, op: &str, r: &str) -> Tri {
    let num = |s: &str| s.trim().parse::<i64>().ok();
    match op {
        "=" | "==" => Tri::from(l == r),
        "!=" => Tri::from(l != r),
        "<" => Tri::from(l < r),
        "<=" => Tri::from(l <= r),
        ">" => Tri::from(l > r),
        ">=" => Tri::from(l >= r),
        _ => match (num(l), num(r)) {
            (Some(a), Some(b)) => Tri::from(match op {
                "-eq" => a == b,
                "-ne" => a != b,
                "-lt" => a < b,
                "-le" => a <= b,
                "-gt" => a > b,
                _ => a >= b,
            }),
            _ => Tri::False,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(words: &[&str]) -> Tri {
        let args: Vec<Arg> = words
            .iter()
            .map(|w| (w.trim_start_matches('?').to_string(), w.starts_with('?')))
            .collect();
        eval(&args, &|p, _| Tri::from(p == "/exists"))
    }

    #[test]
    fn expressions() {
        assert_eq!(t(&["xy", "=", "xy"]), Tri::True);
        assert_eq!(t(&["x", "=", "xy"]), Tri::False);
        assert_eq!(t(&[""]), Tri::False);
        assert_eq!(t(&["a"]), Tri::True);
        assert_eq!(t(&["-n", ""]), Tri::False);
        assert_eq!(t(&["-z", ""]), Tri::True);
        assert_eq!(t(&["-s", "/exists"]), Tri::True);
        assert_eq!(t(&["!", "-e", "/nope"]), Tri::True);
        assert_eq!(t(&["?efi", "=", "efi"]), Tri::Unknown);
        assert_eq!(t(&["?efi", "=", "efi", "-a", "1", "=", "2"]), Tri::False);
        assert_eq!(t(&["1", "-lt", "2", "-o", "?x"]), Tri::True);
        assert_eq!(t(&["(", "a", "=", "b", ")"]), Tri::False);
        assert_eq!(t(&["10", "-gt", "9"]), Tri::True);
        assert_eq!(t(&[]), Tri::False);
        let deep: Vec<&str> = std::iter::repeat_n("(", 1000).collect();
        let _ = t(&deep);
        let bangs: Vec<&str> = std::iter::repeat_n("!", 1000).collect();
        let _ = t(&bangs);
    }
}
