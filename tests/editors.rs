//! The editor set-ups in `editors/` stay in step with the language and the server: their
//! JSON parses, the VS Code extension declares `.nas` and a grammar that exists, the
//! TextMate grammar and the Vim syntax file know every keyword of `grammar/nas.pest`, and
//! every editor starts the server as `nasc lsp`. Needs only the files, not Node or an
//! editor; `editors/vscode/test/tokenize.js` checks the grammar with a real tokenizer.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The repository root.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The text of a file of the repository.
fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
}

/// A JSON file of the repository, parsed.
fn json(rel: &str) -> Value {
    serde_json::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel} is not JSON: {e}"))
}

/// Every file under `dir` (relative to the root) whose name ends with `suffix`, sorted;
/// `node_modules` is skipped.
fn files_under(dir: &str, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root().join(dir)];
    while let Some(path) = stack.pop() {
        for entry in std::fs::read_dir(&path).expect("readable directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "node_modules") {
                    stack.push(path);
                }
            } else if path.to_string_lossy().ends_with(suffix) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The body of the pest rule `name` of `grammar/nas.pest`: the text between its `{` and the
/// matching `}`.
fn pest_rule(name: &str) -> String {
    let pest = read("grammar/nas.pest");
    let start = pest
        .lines()
        .scan(0, |offset, line| {
            let at = *offset;
            *offset += line.len() + 1;
            Some((at, line))
        })
        .find(|(_, line)| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|(at, _)| at)
        .unwrap_or_else(|| panic!("grammar/nas.pest has no rule `{name}`"));
    let open = start + pest[start..].find('{').expect("a rule body");
    let mut depth = 0;
    for (i, c) in pest[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return pest[open + 1..open + i].to_string();
                }
            }
            _ => {}
        }
    }
    panic!("the rule `{name}` is not closed");
}

/// The quoted literals of a piece of pest that are words (lowercase letters and `_`, two
/// or more), in order of appearance.
fn word_literals(pest: &str) -> Vec<String> {
    pest.split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| s.len() >= 2 && s.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .map(str::to_string)
        .collect()
}

/// The keywords of the `keyword` rule of `grammar/nas.pest`.
fn pest_keywords() -> Vec<String> {
    word_literals(&pest_rule("keyword"))
}

/// Every `match`, `begin`, `end` and `while` regular expression of a TextMate grammar.
fn grammar_regexes(node: &Value, out: &mut Vec<String>) {
    match node {
        Value::Array(items) => items.iter().for_each(|v| grammar_regexes(v, out)),
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("match" | "begin" | "end" | "while", Value::String(re)) => {
                        out.push(re.clone())
                    }
                    _ => grammar_regexes(value, out),
                }
            }
        }
        _ => {}
    }
}

/// Whether `word` stands as a whole word in the regular expression `re`: not inside a
/// longer name. Escapes such as `\b` and `\s` count as separators.
fn regex_has_word(re: &str, word: &str) -> bool {
    let mut plain = String::with_capacity(re.len());
    let mut chars = re.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            chars.next();
            plain.push(' ');
        } else {
            plain.push(c);
        }
    }
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    plain.match_indices(word).any(|(at, _)| {
        let before = plain[..at].chars().next_back();
        let after = plain[at + word.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

/// The `key = value` lines of the TOML table whose header line is `header` (`[name]` or
/// `[[name]]`; the first such table), comments and blank lines left out.
fn toml_table(text: &str, header: &str) -> Vec<(String, String)> {
    let mut lines = text.lines().skip_while(|l| l.trim() != header);
    assert!(lines.next().is_some(), "no table `{header}`");
    lines
        .map(str::trim)
        .take_while(|l| !l.starts_with('['))
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// The value of `key` in a table from [`toml_table`].
fn toml_get<'a>(table: &'a [(String, String)], key: &str) -> &'a str {
    table
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no key `{key}`"))
}

/// A TOML array of plain strings, `["a", "b"]`, as its strings.
fn toml_strings(value: &str) -> Vec<String> {
    let inner = value
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or_else(|| panic!("`{value}` is not an array"));
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_matches('"').to_string())
        .collect()
}

#[test]
fn every_json_file_under_editors_parses() {
    let files = files_under("editors", ".json");
    // package.json, language-configuration.json and the TextMate grammar at least.
    assert!(files.len() >= 3, "found only {files:?}");
    for path in files {
        let text = std::fs::read_to_string(&path).expect("readable");
        if let Err(e) = serde_json::from_str::<Value>(&text) {
            panic!("{} is not JSON: {e}", path.display());
        }
    }
}

#[test]
fn vscode_extension_declares_the_nas_language_and_its_grammar() {
    let package = json("editors/vscode/package.json");
    let contributes = &package["contributes"];
    let language = contributes["languages"]
        .as_array()
        .expect("contributes.languages")
        .iter()
        .find(|l| l["id"] == "nas")
        .expect("a language with id `nas`");
    assert!(
        language["extensions"]
            .as_array()
            .is_some_and(|e| e.iter().any(|x| x == ".nas")),
        "the `nas` language claims `.nas` files"
    );
    let config = language["configuration"].as_str().expect("a configuration");
    let config = json(&format!("editors/vscode/{config}"));
    assert_eq!(config["comments"]["lineComment"], "//");
    assert_eq!(
        config["comments"]["blockComment"],
        serde_json::json!(["/*", "*/"])
    );

    let grammar = contributes["grammars"]
        .as_array()
        .expect("contributes.grammars")
        .iter()
        .find(|g| g["language"] == "nas")
        .expect("a grammar for `nas`");
    let path = grammar["path"].as_str().expect("a grammar path");
    assert!(
        root().join("editors/vscode").join(path).is_file(),
        "the grammar {path} exists"
    );
    let tm = json(&format!("editors/vscode/{path}"));
    assert_eq!(tm["scopeName"], grammar["scopeName"], "one scope name");

    let main = package["main"].as_str().expect("a main script");
    let extension = read(&format!("editors/vscode/{main}"));
    assert!(
        extension.contains(r#"args: ["lsp"]"#),
        "the extension runs `<path> lsp`"
    );
    assert!(package["activationEvents"]
        .as_array()
        .is_some_and(|a| a.iter().any(|e| e == "onLanguage:nas")));
    assert_eq!(
        contributes["configuration"]["properties"]["nas.server.path"]["default"],
        "nasc"
    );
    assert!(package["dependencies"]["vscode-languageclient"].is_string());
    assert!(package["engines"]["vscode"].is_string());
}

#[test]
fn textmate_grammar_includes_resolve() {
    let tm = json("editors/vscode/syntaxes/nas.tmLanguage.json");
    let repository = tm["repository"].as_object().expect("a repository");
    let text = read("editors/vscode/syntaxes/nas.tmLanguage.json");
    let mut includes = 0;
    for piece in text.split(r##""include": "#"##).skip(1) {
        let name = &piece[..piece.find('"').expect("a closed string")];
        assert!(
            repository.contains_key(name),
            "`#{name}` is not in the repository"
        );
        includes += 1;
    }
    assert!(includes > 0, "the grammar uses its repository");
}

#[test]
fn textmate_grammar_knows_every_keyword_of_the_pest_grammar() {
    let keywords = pest_keywords();
    assert!(
        keywords.len() >= 20 && keywords.iter().any(|k| k == "param"),
        "the `keyword` rule was not read: {keywords:?}"
    );
    let tm = json("editors/vscode/syntaxes/nas.tmLanguage.json");
    let mut regexes = Vec::new();
    grammar_regexes(&tm, &mut regexes);
    // The words that are keywords in one place only (`weight`, `top`, `module`, ...) too.
    let pest = read("grammar/nas.pest");
    let contextual: BTreeSet<String> = word_literals(&pest).into_iter().collect();
    for word in keywords.iter().chain(&contextual) {
        assert!(
            regexes.iter().any(|re| regex_has_word(re, word)),
            "no regular expression of the TextMate grammar matches `{word}`"
        );
    }
}

#[test]
fn vim_syntax_knows_every_keyword_of_the_pest_grammar() {
    let syntax = read("editors/neovim/syntax/nas.vim");
    let declared: BTreeSet<&str> = syntax
        .lines()
        .filter_map(|l| l.trim().strip_prefix("syn keyword "))
        .flat_map(|l| l.split_whitespace().skip(1))
        .collect();
    for word in pest_keywords() {
        assert!(
            declared.contains(word.as_str()),
            "editors/neovim/syntax/nas.vim has no `syn keyword` for `{word}`"
        );
    }
}

#[test]
fn neovim_starts_nasc_lsp_for_nas_files() {
    let plugin = read("editors/neovim/plugin/nas.lua");
    assert!(plugin.contains(r#"extension = { nas = "nas" }"#));
    assert!(plugin.contains(r#"commentstring = "// %s""#));
    assert!(plugin.contains("vim.lsp.start("));
    assert!(plugin.contains(r#"cmd = { vim.g.nasc_path or "nasc", "lsp" }"#));
}

#[test]
fn helix_starts_nasc_lsp_for_nas_files() {
    let text = read("editors/helix/languages.toml");
    let server = toml_table(&text, "[language-server.nasc]");
    assert_eq!(toml_get(&server, "command"), r#""nasc""#);
    assert_eq!(toml_strings(toml_get(&server, "args")), ["lsp"]);

    let language = toml_table(&text, "[[language]]");
    assert_eq!(toml_get(&language, "name"), r#""nas""#);
    assert_eq!(toml_strings(toml_get(&language, "file-types")), ["nas"]);
    assert_eq!(
        toml_strings(toml_get(&language, "language-servers")),
        ["nasc"]
    );
    assert!(toml_strings(toml_get(&language, "comment-tokens")).contains(&"//".to_string()));
}

#[test]
fn regex_words_are_whole_words() {
    assert!(regex_has_word(r"\b(import|as)\b", "as"));
    assert!(regex_has_word(r"\bkeep\b", "keep"));
    assert!(regex_has_word(r"(?:\s+(weight)\b)?", "weight"));
    assert!(!regex_has_word(r"\b(weight_decay)\b", "weight"));
    assert!(!regex_has_word(r"\b(params)\b", "param"));
}
