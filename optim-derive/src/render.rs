//! Renders an expression's tokens as a human writes them (`betas.0 < 1.0`, not
//! `betas . 0 < 1.0`), for the default messages of `check`s. (`Span::source_text` would
//! be exact, but on stable it covers only an expression's first token.)

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};

/// The tokens as source text.
pub fn render(tokens: TokenStream) -> String {
    let mut out = String::new();
    // Whether the next token attaches to the previous one without a space.
    let mut glue = true;
    // Whether the previous token ends an operand (so `-` or `!` next is binary).
    let mut after_operand = false;
    // Whether the previous token is the first half of a joint operator (`&` of `&&`).
    let mut continues = false;
    for tt in tokens {
        let (text, glue_before, glue_after, operand) = match &tt {
            TokenTree::Ident(i) => (i.to_string(), false, false, true),
            TokenTree::Literal(l) => (l.to_string(), false, false, true),
            TokenTree::Punct(p) => {
                let c = p.as_char();
                let unary = matches!(c, '!' | '-' | '&' | '*') && !after_operand && !continues;
                let joint = p.spacing() == Spacing::Joint;
                // `::` attaches on both sides; `.` after; `,` and `;` before.
                let path = c == ':' && (joint || continues);
                (
                    c.to_string(),
                    matches!(c, '.' | ',' | ';') || path,
                    c == '.' || unary || joint || path,
                    false,
                )
            }
            TokenTree::Group(g) => {
                let inner = render(g.stream());
                let (open, close) = match g.delimiter() {
                    Delimiter::Parenthesis => ("(", ")"),
                    Delimiter::Bracket => ("[", "]"),
                    Delimiter::Brace => ("{ ", " }"),
                    Delimiter::None => ("", ""),
                };
                // A call or an index attaches to what precedes it.
                let call = after_operand && matches!(g.delimiter(), Delimiter::Parenthesis | Delimiter::Bracket);
                (format!("{open}{inner}{close}"), call, false, true)
            }
        };
        if !out.is_empty() && !glue && !glue_before {
            out.push(' ');
        }
        out.push_str(&text);
        glue = glue_after;
        after_operand = operand;
        continues = matches!(&tt, TokenTree::Punct(p) if p.spacing() == Spacing::Joint);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::render;
    use quote::quote;

    #[test]
    fn renders_as_written() {
        assert_eq!(render(quote!(lr >= 0.0)), "lr >= 0.0");
        assert_eq!(
            render(quote!(0.0 <= betas.0 && betas.0 < 1.0)),
            "0.0 <= betas.0 && betas.0 < 1.0"
        );
        assert_eq!(
            render(quote!(!nesterov || (momentum > 0.0 && dampening == 0.0))),
            "!nesterov || (momentum > 0.0 && dampening == 0.0)"
        );
        assert_eq!(
            render(quote!(x.abs() < f64::EPSILON * -2.0)),
            "x.abs() < f64::EPSILON * -2.0"
        );
        assert_eq!(render(quote!(v[0] - 1 >= sizes.len())), "v[0] - 1 >= sizes.len()");
    }
}
