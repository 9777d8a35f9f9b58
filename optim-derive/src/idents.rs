//! Which options an expression or a message mentions, so that generated code binds exactly
//! those (and a check on one option can run on partial defaults).

use proc_macro2::{TokenStream, TokenTree};

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
