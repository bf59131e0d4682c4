use serde::Serialize;

/// Where a value was read: a guest path and, for line-based files, the 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Provenance {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

impl Provenance {
    pub fn file(path: impl Into<String>) -> Self {
        Provenance {
            path: path.into(),
            line: None,
        }
    }
    pub fn line(path: impl Into<String>, line: u32) -> Self {
        Provenance {
            path: path.into(),
            line: Some(line),
        }
    }
}

impl std::fmt::Display for Provenance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}", self.path, l),
            None => f.write_str(&self.path),
        }
    }
}
