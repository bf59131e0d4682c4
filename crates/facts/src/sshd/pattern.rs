//! OpenSSH's pattern lists (match.c, "PATTERNS" in ssh_config(5)): comma-separated patterns
//! with `*` and `?` wildcards, where a pattern prefixed by `!` negates.

/// `match_pattern()`: `*` any run of characters, `?` exactly one, everything else literal.
/// Iterative with backtracking over the last `*`: O(pattern × text) on hostile input.
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
                continue;
            }
            Some(&c) if c == '?' || Some(&c) == t.get(ti) => {
                pi += 1;
                ti += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}

/// `match_pattern_list()`: `Some(true)` if a positive pattern matches and no negated one does,
/// `Some(false)` if nothing matches, `None` if a negated pattern matches (which sshd treats
/// as a definite "no", whatever else matches).
pub fn pattern_list(text: &str, list: &str) -> Option<bool> {
    let mut positive = false;
    for sub in list.split(',') {
        let (negated, pat) = match sub.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, sub),
        };
        if wildcard(pat, text) {
            if negated {
                return None;
            }
            positive = true;
        }
    }
    Some(positive)
}

/// `Match User`: the user name matches the pattern list (case-sensitive, as on non-Cygwin).
pub fn user_matches(user: &str, list: &str) -> bool {
    pattern_list(user, list) == Some(true)
}

/// `Match Group` (groupaccess.c `ga_match_pattern_list`): one of the user's groups matches
/// positively and none matches a negated pattern.
pub fn groups_match(groups: &[String], list: &str) -> bool {
    let mut found = false;
    for g in groups {
        match pattern_list(g, list) {
            None => return false,
            Some(true) => found = true,
            Some(false) => {}
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        for (p, t, want) in [
            ("root", "root", true),
            ("root", "roots", false),
            ("r*", "root", true),
            ("r?ot", "root", true),
            ("*", "", true),
            ("?", "", false),
            ("*a*b", "xxaxxb", true),
            ("*a*b", "xxaxxbc", false),
            ("[ab]", "a", false),
        ] {
            assert_eq!(wildcard(p, t), want, "{p} vs {t}");
        }
    }

    #[test]
    fn lists_and_negation() {
        assert!(user_matches("root", "admin,root"));
        assert!(!user_matches("root", "!root,*"));
        assert!(user_matches("opc", "!root,*"));
        assert!(!user_matches("opc", "!root"));
        assert!(!user_matches("Root", "root"));
        let g = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(groups_match(&g(&["root", "wheel"]), "wheel"));
        assert!(!groups_match(&g(&["root", "wheel"]), "wheel,!root"));
        assert!(!groups_match(&g(&[]), "*"));
    }
}
