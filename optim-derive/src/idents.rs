//! Which options an expression or a message mentions, so that generated code binds exactly
//! those (and a check on one option can run on partial defaults).

use proc_macro2::{Ident, TokenStream, TokenTree};

/// The names from `names` that appear as identifiers in `tokens`, in order of `names`.
/// An identifier right after `.` is a field or method, not an option, and does not count.
pub fn mentioned(tokens: TokenStream, names: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    collect(tokens, names, &mut found);
    names.iter().filter(|n| found.contains(n)).cloned().collect()
}

fn collect(tokens: TokenStream, names: &[String], found: &mut Vec<String>) {
    let mut after_dot = false;
    for tt in tokens {
        match tt {
            TokenTree::Ident(ident) => {
                let s = ident.to_string();
                if !after_dot && names.contains(&s) && !found.contains(&s) {
                    found.push(s);
                }
                after_dot = false;
            }
            TokenTree::Punct(p) => after_dot = p.as_char() == '.',
            TokenTree::Group(g) => {
                collect(g.stream(), names, found);
                after_dot = false;
            }
            TokenTree::Literal(_) => after_dot = false,
        }
    }
}

/// The names from `names` that a format string captures (`{lr}`, `{betas:?}`).
pub fn captured(format: &str, names: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    let mut chars = format.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '{' {
            continue;
        }
        if chars.peek().is_some_and(|&(_, n)| n == '{') {
            chars.next();
            continue;
        }
        let rest = &format[i + 1..];
        let end = rest
            .find(|ch: char| !(ch.is_alphanumeric() || ch == '_'))
            .unwrap_or(rest.len());
        let name = &rest[..end];
        if names.iter().any(|n| n == name) && !found.iter().any(|f: &String| f == name) {
            found.push(name.to_string());
        }
    }
    names.iter().filter(|n| found.contains(n)).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn names() -> Vec<String> {
        ["lr", "betas", "momentum"].map(String::from).to_vec()
    }

    #[test]
    fn finds_options_but_not_fields_or_methods() {
        let tokens = quote!(lr >= 0.0 && betas.0 < 1.0 && x.momentum > 0.0);
        assert_eq!(mentioned(tokens, &names()), ["lr", "betas"]);
    }

    #[test]
    fn looks_inside_groups() {
        let tokens = quote!(f((momentum)) && [lr][0] > 0.0);
        assert_eq!(mentioned(tokens, &names()), ["lr", "momentum"]);
    }

    #[test]
    fn finds_format_captures() {
        assert_eq!(captured("invalid learning rate: {lr}", &names()), ["lr"]);
        assert_eq!(captured("{betas:?} and {{momentum}} {lrx}", &names()), ["betas"]);
    }
}

/// The free variables of an expression: identifiers that start with a lowercase letter or
/// `_`, are not keywords, not a field or method (after `.`), not a function or macro name
/// (before `(` or `!`) and not a path segment (around `::`). For a variant's checks, whose
/// options the derive cannot see: each is bound to the option of that name (an unknown one
/// is then rustc's "no field" error at the check). Each comes with the span of its first
/// occurrence.
pub fn free_variables(tokens: TokenStream) -> Vec<Ident> {
    const KEYWORDS: &[&str] = &[
        "true", "false", "as", "in", "if", "else", "match", "let", "self", "super", "crate", "move", "mut", "ref",
        "return", "for", "while", "loop", "break", "continue", "fn", "where", "impl", "dyn",
    ];
    let mut found: Vec<Ident> = Vec::new();
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    for (i, tt) in tokens.iter().enumerate() {
        match tt {
            TokenTree::Ident(ident) => {
                let s = ident.to_string();
                let after = |c: char| matches!(tokens.get(i + 1), Some(TokenTree::Punct(p)) if p.as_char() == c);
                let before_dot =
                    i > 0 && matches!(&tokens[i - 1], TokenTree::Punct(p) if p.as_char() == '.' || p.as_char() == ':');
                let call = matches!(tokens.get(i + 1), Some(TokenTree::Group(g)) if g.delimiter() == proc_macro2::Delimiter::Parenthesis);
                let lower = s.starts_with(|c: char| c.is_lowercase() || c == '_');
                if lower
                    && !KEYWORDS.contains(&s.as_str())
                    && !before_dot
                    && !call
                    && !after('!')
                    && !after(':')
                    && !found.iter().any(|f| *f == s)
                {
                    found.push(ident.clone());
                }
            }
            TokenTree::Group(g) => {
                for ident in free_variables(g.stream()) {
                    if !found.contains(&ident) {
                        found.push(ident);
                    }
                }
            }
            _ => {}
        }
    }
    found
}

#[cfg(test)]
mod free_variable_tests {
    use super::free_variables;
    use quote::quote;

    #[test]
    fn finds_variables_but_not_calls_fields_paths_or_keywords() {
        let tokens = quote!(decoupled && f(x.lr) && y.is_finite() && core::f64::consts::PI > z && !w && true);
        let names: Vec<String> = free_variables(tokens).iter().map(ToString::to_string).collect();
        assert_eq!(names, ["decoupled", "x", "y", "z", "w"]);
    }
}
