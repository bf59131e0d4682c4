//! Small text predicates the checks share: URLs, e-mail addresses, phone numbers, words.

/// Characters that end a URL found in running text.
fn ends_url(c: char) -> bool {
    c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | '`' | '|' | '\\' | '^')
}

/// URLs written in free text: every token starting with `http://`, `https://` or `www.`
/// (case-insensitive), without trailing sentence punctuation or a closing bracket.
pub fn urls_in(text: &str) -> Vec<String> {
    let lower = text.to_ascii_lowercase();
    let mut found = Vec::new();
    let mut at = 0;
    while at < lower.len() {
        let rest = &lower[at..];
        let start = ["https://", "http://", "www."]
            .iter()
            .filter_map(|p| rest.find(p))
            .min();
        let Some(start) = start else { break };
        let begin = at + start;
        // "www." inside a word (e.g. "xwww.") is not a link; neither is the "www." of a URL
        // already taken (the loop jumps past each URL).
        let prev = text[..begin].chars().next_back();
        if prev.is_some_and(|c| c.is_alphanumeric() || c == '/' || c == '.') {
            at = begin + 1;
            continue;
        }
        let len = text[begin..].find(ends_url).unwrap_or(text.len() - begin);
        let mut url = &text[begin..begin + len];
        loop {
            let trimmed = url.trim_end_matches(['.', ',', ';', ':', '!', '?']);
            let trimmed = if trimmed.ends_with(')') && !trimmed.contains('(') {
                &trimmed[..trimmed.len() - 1]
            } else {
                trimmed
            };
            let trimmed = if trimmed.ends_with(']') && !trimmed.contains('[') {
                &trimmed[..trimmed.len() - 1]
            } else {
                trimmed
            };
            if trimmed.len() == url.len() {
                break;
            }
            url = trimmed;
        }
        found.push(url.to_string());
        at = begin + len.max(1);
    }
    found
}

/// Why `url` is not a well-formed absolute https URL, or `Ok`.
pub fn check_https_url(url: &str) -> Result<(), String> {
    let url = url.trim();
    if url.is_empty() {
        return Err("empty".into());
    }
    let lower = url.to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &url["https://".len()..]
    } else if lower.starts_with("http://") {
        return Err("uses http://, not https://".into());
    } else if lower.contains("://") {
        return Err("is not an https:// URL".into());
    } else {
        return Err("is not absolute: it must start with https://".into());
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if authority.contains('@') {
        return Err("carries a user name (user@host)".into());
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    if let Some(port) = port {
        let ok = !port.is_empty()
            && port.chars().all(|c| c.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p));
        if !ok {
            return Err(format!("has an invalid port “{port}”"));
        }
    }
    check_host(host)?;
    if let Some(c) = path
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || "<>\"{}|\\^`".contains(*c))
    {
        return Err(format!(
            "contains “{}”, which a URL cannot hold",
            c.escape_default()
        ));
    }
    let bytes = path.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%' {
            let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return Err("has a “%” not followed by two hex digits".into());
            }
        }
    }
    Ok(())
}

/// A public DNS name: at least two labels of letters, digits and inner hyphens, an alphabetic
/// top-level domain (or an IDN one, `xn--…`).
pub fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("has no host name".into());
    }
    let host = host.strip_suffix('.').unwrap_or(host);
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() < 2 {
        return Err(format!("host “{host}” is not a full domain name"));
    }
    for label in &labels {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(format!("host “{host}” is not a valid domain name"));
        }
    }
    let tld = labels[labels.len() - 1];
    let tld_ok = (tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()))
        || tld.to_ascii_lowercase().starts_with("xn--");
    if !tld_ok {
        return Err(format!("host “{host}” does not end in a top-level domain"));
    }
    Ok(())
}

/// Why `email` is not a plausible address, or `Ok`.
pub fn check_email(email: &str) -> Result<(), String> {
    let email = email.trim();
    let Some((local, domain)) = email.split_once('@') else {
        return Err("has no “@”".into());
    };
    if domain.contains('@') {
        return Err("has more than one “@”".into());
    }
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".!#$%&'*+/=?^_`{|}~-".contains(c));
    if !local_ok {
        return Err(format!("“{local}” is not a valid mailbox name"));
    }
    check_host(domain).map_err(|e| e.replace("host", "domain"))
}

/// Why `phone` is not a plausible phone number, or `Ok`: digits with the usual separators,
/// an optional leading `+`, 7 to 15 digits (E.164 allows at most 15).
pub fn check_phone(phone: &str) -> Result<(), String> {
    let phone = phone.trim();
    if let Some(c) = phone
        .chars()
        .find(|c| !(c.is_ascii_digit() || " -().+/".contains(*c)))
    {
        return Err(format!("contains “{c}”"));
    }
    if phone.rfind('+').is_some_and(|i| i != 0) {
        return Err("has a “+” that is not at the start".into());
    }
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    if !(7..=15).contains(&digits) {
        return Err(format!("has {digits} digits (a phone number has 7 to 15)"));
    }
    Ok(())
}

/// Whether `haystack` (any ASCII case) contains `word` (lowercase ASCII) with no letter or digit on
/// either side.
pub fn has_word(haystack: &str, word: &str) -> bool {
    find_word(&haystack.to_ascii_lowercase(), word).is_some()
}

/// Byte offset of the first whole-word occurrence of `word` in `lower` (ASCII-lowercased, so
/// offsets are those of the original text).
pub fn find_word(lower: &str, word: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = lower[from..].find(word) {
        let start = from + i;
        let end = start + word.len();
        let before = lower[..start].chars().next_back();
        let after = lower[end..].chars().next();
        let edge = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
        if edge(before) && edge(after) {
            return Some(start);
        }
        from = start + lower[start..].chars().next().map_or(1, char::len_utf8);
    }
    None
}

/// A short excerpt around byte `at` of `text`, on one line, for a message.
pub fn excerpt(text: &str, at: usize, len: usize) -> String {
    let start = text[..at]
        .char_indices()
        .rev()
        .nth(19)
        .map_or(0, |(i, _)| i);
    let end = text[at + len..]
        .char_indices()
        .nth(20)
        .map_or(text.len(), |(i, _)| at + len + i);
    let mut s: String = text[start..end]
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect();
    s = s.trim().to_string();
    let pre = if start > 0 { "…" } else { "" };
    let post = if end < text.len() { "…" } else { "" };
    format!("{pre}{s}{post}")
}
