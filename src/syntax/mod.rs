//! The syntax stage: `.nas` text to an owned AST with spans.
//!
//! pest's `Pair` and `Rule` never leave this folder; everything downstream reads the AST.

pub mod ast;
mod parser;
mod split;

pub use parser::parse_file;

/// The words the grammar reserves (the `keyword` rule of `grammar/nas.pest`): none of them
/// can name anything. The formatter and the language server read them from here.
pub const KEYWORDS: &[&str] = &[
    "import",
    "as",
    "space",
    "param",
    "let",
    "require",
    "graph",
    "fn",
    "builtin",
    "enum",
    "if",
    "else",
    "repeat",
    "optional",
    "residual",
    "true",
    "false",
    "and",
    "or",
    "not",
    "data",
    "train",
    "objective",
    "pipeline",
    "minimize",
    "maximize",
    "keep",
];

#[cfg(test)]
mod tests {
    #[test]
    fn the_keyword_list_is_the_grammars() {
        let grammar = include_str!("../../grammar/nas.pest");
        let start = grammar.find("\nkeyword = @{").expect("the keyword rule");
        let rule = &grammar[start..start + grammar[start..].find("\n}").expect("its end")];
        let words: Vec<&str> = rule.split('"').skip(1).step_by(2).collect();
        assert_eq!(words, super::KEYWORDS);
    }
}
