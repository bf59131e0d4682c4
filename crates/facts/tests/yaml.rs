//! The YAML reader against PyYAML, the loader cloud-init uses (`yaml.safe_load`).
//!
//! Every `tests/data/yaml/*.yaml` has a `.json` next to it written by PyYAML:
//! `python3 -c 'import yaml,json,sys; print(json.dumps(yaml.safe_load(open(sys.argv[1])), sort_keys=True))' F`.
//! `corpus_matches_pyyaml` compares our reading with those files; `golden_files_are_pyyaml`
//! re-runs PyYAML when it is installed (set `PREFLIGHT_BLESS=1` to rewrite them), so the
//! goldens cannot drift from the real tool.

use preflight_facts::yaml::{self, Kind, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/yaml")
}

fn corpus() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("corpus dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    v.sort();
    v
}

/// PyYAML's JSON for `text`, or `None` when python3 with PyYAML is not installed.
fn pyyaml(text: &str) -> Option<Result<String, String>> {
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import yaml,json,sys\n\
             try:\n print(json.dumps(yaml.safe_load(sys.stdin), sort_keys=True))\n\
             except yaml.YAMLError as e:\n print('ERROR', getattr(e, 'problem_mark', None) and e.problem_mark.line + 1); sys.exit(3)",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    use std::io::Write;
    child.stdin.take()?.write_all(text.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    match out.status.code() {
        Some(0) => Some(Ok(stdout)),
        Some(3) => Some(Err(stdout)),
        _ => None, // no python3 or no yaml module
    }
}

#[test]
fn corpus_matches_pyyaml() {
    let files = corpus();
    assert!(files.len() >= 10, "corpus too small: {files:?}");
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let want = std::fs::read_to_string(f.with_extension("json")).unwrap();
        let got = yaml::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert_eq!(got.to_json(), want.trim(), "{}", f.display());
    }
}

#[test]
fn golden_files_are_pyyaml() {
    let bless = std::env::var_os("PREFLIGHT_BLESS").is_some();
    for f in corpus() {
        let text = std::fs::read_to_string(&f).unwrap();
        let Some(py) = pyyaml(&text) else {
            eprintln!("python3 with PyYAML not available: golden files not re-checked");
            return;
        };
        let py = py.unwrap_or_else(|e| panic!("PyYAML rejects {}: {e}", f.display()));
        let golden = f.with_extension("json");
        if bless {
            std::fs::write(&golden, format!("{py}\n")).unwrap();
        } else {
            let want = std::fs::read_to_string(&golden).unwrap();
            assert_eq!(want.trim(), py, "{} is stale", golden.display());
        }
    }
}

/// Small cases: (input, PyYAML's JSON).
const CASES: &[(&str, &str)] = &[
    ("", "null"),
    ("# only a comment\n", "null"),
    ("a: 1\n", r#"{"a": 1}"#),
    ("a:\n", r#"{"a": null}"#),
    ("a: b\r\nc: d\r\n", r#"{"a": "b", "c": "d"}"#),
    (
        "key:\n- a\n- b\nnext: 1\n",
        r#"{"key": ["a", "b"], "next": 1}"#,
    ),
    ("- a: 1\n  b: 2\n- c\n", r#"[{"a": 1, "b": 2}, "c"]"#),
    ("a: &x 1\nb: *x\n", r#"{"a": 1, "b": 1}"#),
    ("&k a: 1\nb: *k\n", r#"{"a": 1, "b": "a"}"#),
    ("a: [1, [2, [3]]]\n", r#"{"a": [1, [2, [3]]]}"#),
    ("a: {x:1}\n", r#"{"a": {"x:1": null}}"#),
    ("a: \"\\u263a\"\n", r#"{"a": "\u263a"}"#),
    ("a: 'x'\nb: \"y\" # c\n", r#"{"a": "x", "b": "y"}"#),
    ("a: |\n  x\n\n\n", r#"{"a": "x\n"}"#),
    ("a: |+\n  x\n\n", r#"{"a": "x\n\n"}"#),
    ("a: >\n  x\n   y\n  z\n", r#"{"a": "x\n y\nz\n"}"#),
    ("a: |\n  x", r#"{"a": "x"}"#),
    ("a: b\n...\n", r#"{"a": "b"}"#),
    ("--- \na: 1\n", r#"{"a": 1}"#),
    ("a:\n  - 1\n  -\n  - 3\n", r#"{"a": [1, null, 3]}"#),
    ("a: \"multi\\\n   line\"\n", r#"{"a": "multiline"}"#),
    ("a: 1.0\nb: -.inf\n", r#"{"a": 1.0, "b": -Infinity}"#),
    ("\u{feff}a: 1\n", r#"{"a": 1}"#),
    ("a: é\n", r#"{"a": "\u00e9"}"#),
    (
        "a:\n  b:\n    c:\n      d: deep\n",
        r#"{"a": {"b": {"c": {"d": "deep"}}}}"#,
    ),
    ("'a': !!str yes\n", r#"{"a": "yes"}"#),
    ("- [a, b]: c\n", "unsupported"),
];

#[test]
fn small_cases() {
    for (input, want) in CASES {
        if *want == "unsupported" {
            assert!(yaml::parse(input).is_err(), "{input:?}");
            continue;
        }
        let got = yaml::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(got.to_json(), *want, "{input:?}");
        if let Some(py) = pyyaml(input) {
            assert_eq!(py.as_deref(), Ok(*want), "PyYAML disagrees on {input:?}");
        }
    }
}

/// Malformed input: (input, line we report, a word of the message). PyYAML rejects each too.
const ERRORS: &[(&str, u32, &str)] = &[
    ("a:\n\tb: 1\n", 2, "tab"),
    ("a: 1\nb:\n  c: 1\n\t\n", 4, "tab"),
    ("a: \"unclosed\nb: 2\n", 1, "unclosed"),
    ("x: 1\na: 'unclosed\n", 2, "unclosed"),
    ("a: [1, 2\nb: 3\n", 1, "flow sequence"),
    ("a: {x: 1\n", 1, "unclosed flow mapping"),
    ("a:\n  b: 1\n   c: 2\n", 3, "mapping values"),
    ("a:\n    b: 1\n  c: 2\n", 3, "indentation"),
    ("a: 1\n  b: 2\n", 2, "mapping values"),
    ("a:\n  - b\n - c\n", 3, "indentation"),
    ("a: b: c\n", 1, "mapping values"),
    ("a: 1\n- b\n", 2, "sequence entry"),
    ("- a\nb: 1\n", 2, "unexpected content"),
    ("a: 1\nkey value\n", 2, "could not find"),
    ("a: *nope\n", 1, "anchor"),
    ("a: \"\\q\"\n", 1, "escape"),
    ("a: 1\nb\n", 2, "':'"),
    ("a: [1,, 2]\n", 1, "empty entry"),
    ("a: 1\nb: |\n  x\0y\n", 3, "special character"),
];

#[test]
fn errors_have_lines() {
    for (input, line, word) in ERRORS {
        let e = yaml::parse(input).expect_err(input);
        assert_eq!(e.line, *line, "{input:?}: {e}");
        assert!(e.message.contains(word), "{input:?}: {e}");
        if let Some(py) = pyyaml(input) {
            assert!(py.is_err(), "PyYAML accepts {input:?}: {py:?}");
        }
    }
}

#[test]
fn limits() {
    let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
    assert!(yaml::parse(&deep).unwrap_err().message.contains("nesting"));
    let mut deep_block = String::new();
    for i in 0..100 {
        deep_block.push_str(&format!("{}k{i}:\n", " ".repeat(i)));
    }
    assert!(
        yaml::parse(&deep_block)
            .unwrap_err()
            .message
            .contains("nesting")
    );
    // Billion laughs.
    let mut lol = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let prev = i - 1;
        lol.push_str(&format!(
            "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
        ));
    }
    let lol = lol.replacen("&a [", "&a0 [", 1);
    let e = yaml::parse(&lol).unwrap_err();
    assert!(e.message.contains("aliases expand"), "{e}");
    let big = "a".repeat(yaml::MAX_INPUT + 1);
    assert!(yaml::parse(&big).is_err());
}

#[test]
fn api_and_lines() {
    let doc = yaml::parse(
        "# header\nssh_pwauth: Yes\nusers:\n  - default\n  - name: bob\n    lock_passwd: off\nn: 0755\nq: \"true\"\n",
    )
    .unwrap();
    let pw = doc.get("ssh_pwauth").unwrap();
    assert_eq!(
        (pw.line, pw.as_bool(), pw.as_str()),
        (2, Some(true), Some("Yes"))
    );
    assert_eq!(pw.kind(), Some(Kind::Bool(true)));
    let users = doc.get("users").unwrap().as_seq().unwrap();
    assert_eq!(users[0].as_str(), Some("default"));
    assert_eq!(users[1].line, 5);
    assert_eq!(users[1].get("lock_passwd").unwrap().as_bool(), Some(false));
    assert_eq!(users[1].get("lock_passwd").unwrap().line, 6);
    assert_eq!(doc.get("n").unwrap().as_i64(), Some(493));
    let q = doc.get("q").unwrap();
    assert_eq!((q.as_bool(), q.kind()), (None, Some(Kind::Str)));
    assert_eq!(doc.entries().len(), 4);
    assert!(doc.get("missing").is_none());
    assert!(matches!(doc.value, Value::Map(_)));
    let (k, _) = doc.get_entry("users").unwrap();
    assert_eq!(k.line, 3);
}

#[test]
fn further_documents_are_reported() {
    let d = yaml::parse_document("a: 1\n---\nb: 2\n---\nc: 3\n").unwrap();
    assert_eq!(d.root.to_json(), r#"{"a": 1}"#);
    assert_eq!(d.more_documents, vec![2, 4]);
    let d = yaml::parse_document("---\na: 1\n...\n").unwrap();
    assert!(d.more_documents.is_empty());
}
