//! Validation of the parsed inputs, all in one place (as thiserror's `valid.rs`). Every
//! problem is recorded with the span of the offending token; nothing stops at the first.

use std::collections::HashMap;

use quote::ToTokens;

use crate::ast::{Hyper, OptionEnum, StateStruct, TensorKind};
use crate::attr::UpdateForm;
use crate::ctxt::Ctxt;
use crate::idents;

/// State-dict keys that a group already uses for itself.
const RESERVED: &[&str] = &["params", "param_names"];

/// The most optional tensors a state may have: each doubles the number of specialised
/// loops generated for the elementwise pass.
pub const MAX_OPTIONAL_TENSORS: usize = 3;

/// Checks a `#[derive(Optimizer)]` input.
pub fn hyper(cx: &Ctxt, h: &Hyper) {
    if !h.generics.params.is_empty() {
        cx.error_spanned_by(
            h.generics,
            "#[derive(Optimizer)] does not support generic parameters: options have concrete types (f64, bool, usize, ...) and the element type is chosen when the optimizer is built",
        );
    }
    let at_attr = |message: &str| match h.attrs.span {
        Some(span) => cx.syn_error(syn::Error::new(span, message)),
        None => cx.error_spanned_by(h.ident, message),
    };
    if h.base.is_some() {
        variant(cx, h);
    } else if let Some(key) = &h.attrs.defaults_key {
        cx.error_spanned_by(
            key,
            "`defaults(..)` sets the defaults of a variant (`struct AdamW(Adam);`); an optimizer with fields gives each its own #[hyper(default = ..)]",
        );
    }
    for c in &h.attrs.param_checks {
        if idents::mentioned(c.expr.to_token_stream(), &["shape".to_string()]).is_empty() {
            cx.error_spanned_by(
                &c.expr,
                "a `param_check` tests the parameter's `shape` (a `&[usize]`), and nothing else: `param_check(shape.len() == 2)`; a requirement on options is a `check`",
            );
        }
    }
    if let (Some(eager), Some((UpdateForm::Closure, _))) = (&h.attrs.eager_state, &h.attrs.update) {
        cx.error_spanned_by(
            eager,
            "`eager_state` creates a state per parameter when the optimizer is built; a closure rule has one state, created at its first step: remove `eager_state`",
        );
    }
    if h.attrs.state.is_none() && !h.attrs.state_given && h.base.is_none() {
        at_attr(
            "missing `state`: declare the per-parameter state with #[optimizer(state = MyState)] (a struct with #[derive(State)]), or `state = ()` for a rule without state",
        );
    }
    if h.attrs.update.is_none() && !h.attrs.update_given {
        at_attr(
            "missing `update`: say how the rule is written with #[optimizer(update = elementwise)], `update = per_tensor` or `update = closure`",
        );
    }
    kind_and_version(cx, h, "optimizer");

    fields(cx, h, |key| {
        RESERVED.contains(&key).then(|| {
            format!("`{key}` is the name of a group's own entry in state dicts: rename the option with #[hyper(rename = \"...\")]")
        })
    });
}

/// Checks `kind` and `version` (of an optimizer or a schedule, `what`).
pub(crate) fn kind_and_version(cx: &Ctxt, h: &Hyper, what: &str) {
    if let Some(kind) = h.attrs.kind.as_ref().filter(|k| k.value().trim().is_empty()) {
        cx.error_spanned_by(
            kind,
            format!("`kind` names the {what} in state dicts and cannot be empty"),
        );
    }
    if let Some(version) = &h.attrs.version {
        match version.base10_parse::<u32>() {
            Ok(0) | Err(_) => cx.error_spanned_by(version, "`version` is a state-dict format version: a number from 1"),
            Ok(_) => {}
        }
    }
}

/// Checks the options (the fields) of an optimizer or a schedule: `reserved` says why a
/// state-dict name cannot be an option's (`None` when it can).
pub(crate) fn fields(cx: &Ctxt, h: &Hyper, reserved: impl Fn(&str) -> Option<String>) {
    let names: Vec<String> = h.fields.iter().map(|f| f.ident.to_string()).collect();
    let mut keys: HashMap<String, &syn::Ident> = HashMap::new();
    for (i, f) in h.fields.iter().enumerate() {
        let a = &f.attrs;
        if let (Some(required), Some(_)) = (&a.required, &a.default) {
            cx.error_spanned_by(
                required,
                format!(
                    "option `{}` cannot be both `required` and have a `default`: a required option has none (torch's `required` sentinel); remove one",
                    f.ident
                ),
            );
        }
        if let Some((range, _)) = &a.range {
            match &range.expr {
                syn::Expr::Range(r) if r.start.is_some() || r.end.is_some() => {}
                syn::Expr::Range(r) => cx.error_spanned_by(
                    r,
                    "a `range` without bounds checks nothing but finiteness: write `finite` (or `finite(\"message\")`) instead",
                ),
                other => cx.error_spanned_by(
                    other,
                    "`range` takes a range with at least one bound: `range = 0.0..1.0`, `range = 0.0..`, `range = ..=1.0`",
                ),
            }
        }
        if a.required.is_none() && a.default.is_none() && !f.is_option() {
            cx.error_spanned_by(
                f.ident,
                format!(
                    "option `{}` has no default: add #[hyper(default = ...)], or #[hyper(required)] if every group must set it",
                    f.ident
                ),
            );
        }
        let key = f.key();
        let key_tokens = a
            .rename
            .as_ref()
            .map_or_else(|| f.ident.to_token_stream(), |r| r.to_token_stream());
        if key.is_empty() {
            cx.error_spanned_by(&key_tokens, "an option's name cannot be empty");
        }
        if let Some(why) = reserved(&key) {
            cx.error_spanned_by(&key_tokens, why);
        }
        if let Some(first) = keys.get(&key) {
            cx.error_spanned_by(
                &key_tokens,
                format!(
                    "two options are named `{key}` in state dicts (`{first}` and `{}`): give one a different `rename`",
                    f.ident
                ),
            );
        } else {
            keys.insert(key, f.ident);
        }
        if let Some(default) = &a.default {
            let later: Vec<String> = idents::mentioned(default.to_token_stream(), &names[i..]);
            for name in later {
                cx.error_spanned_by(
                    default,
                    format!(
                        "the default of `{}` refers to `{name}`, which is not declared before it: defaults are computed in declaration order",
                        f.ident
                    ),
                );
            }
        }
    }
}

/// Checks what only a variant (`struct AdamW(Adam);`) may and may not say.
fn variant(cx: &Ctxt, h: &Hyper) {
    let a = &h.attrs;
    if let Some((_, span)) = &a.state {
        cx.syn_error(syn::Error::new(
            *span,
            "a variant has the state of the optimizer it wraps: remove `state`",
        ));
    }
    if let Some(eager) = &a.eager_state {
        cx.error_spanned_by(
            eager,
            "a variant creates state as the optimizer it wraps does: remove `eager_state`",
        );
    }
    if let Some(c) = a.param_checks.first() {
        cx.error_spanned_by(
            &c.expr,
            "a variant takes the parameters the optimizer it wraps takes: remove `param_check`",
        );
    }
}

/// Whether a state struct's generics are the one element type (or none) the expansion
/// supports.
pub fn state_generics_ok(s: &StateStruct) -> bool {
    let g = s.generics;
    g.lifetimes().next().is_none() && g.const_params().next().is_none() && g.type_params().count() <= 1
}

/// Checks a `#[derive(State)]` input.
pub fn state(cx: &Ctxt, s: &StateStruct) {
    let g = s.generics;
    if !state_generics_ok(s) {
        cx.error_spanned_by(
            g,
            "#[derive(State)] supports one type parameter, the element type (`struct MyState<A> { exp_avg: ArrayD<A> }`)",
        );
    }
    let mut keys: HashMap<String, &syn::Ident> = HashMap::new();
    let mut optional = 0;
    for f in &s.fields {
        if let (Some(skip), Some(_)) = (&f.attrs.skip, &f.attrs.rename) {
            cx.error_spanned_by(skip, "a `skip`ped field is not saved, so it cannot be renamed");
        }
        if let (Some(flatten), true) = (&f.attrs.flatten, f.attrs.skip.is_some() || f.attrs.rename.is_some()) {
            cx.error_spanned_by(
                flatten,
                "a `flatten`ed field saves the entries its type names, so it cannot be renamed or skipped",
            );
        }
        if f.attrs.shape.is_some() {
            if let Some(other) = f.attrs.skip.as_ref().or(f.attrs.flatten.as_ref()) {
                cx.error_spanned_by(
                    other,
                    format!(
                        "a tensor with a `shape` rule is saved as one entry of its own, so it cannot also be `{other}`: remove one of the two"
                    ),
                );
            }
            if crate::ast::option_inner(f.ty).is_none() {
                cx.error_spanned_by(
                    f.ty,
                    "a tensor with a `shape` rule exists only for some parameters: make it an `Option<ArrayD<A>>` (its rule returns `None` where it is absent)",
                );
            }
        }
        if f.attrs.skip.is_some() || f.attrs.flatten.is_some() {
            continue;
        }
        if f.tensor == TensorKind::OptionalTensor {
            optional += 1;
            if optional > MAX_OPTIONAL_TENSORS {
                cx.error_spanned_by(
                    f.ty,
                    format!(
                        "a state can have at most {MAX_OPTIONAL_TENSORS} optional tensors (each doubles the specialised loops of the elementwise pass); make this one a plain `ArrayD`"
                    ),
                );
            }
        }
        let key = f.key();
        if let Some(first) = keys.get(&key) {
            cx.syn_error(syn::Error::new(
                f.attrs.rename.as_ref().map_or_else(|| f.ident.span(), |r| r.span()),
                format!("two state entries are named `{key}` (`{first}` and `{}`)", f.ident),
            ));
        } else {
            keys.insert(key, f.ident);
        }
    }
}

/// Checks a `#[derive(OptionValue)]` input: unit variants, each written one way, no two
/// written the same.
pub fn option_enum(cx: &Ctxt, e: &OptionEnum) {
    let mut written: Vec<(Option<String>, &syn::Ident)> = Vec::new();
    for v in &e.variants {
        if !matches!(v.fields, syn::Fields::Unit) {
            cx.error_spanned_by(
                v.ident,
                format!(
                    "an option's variants carry no data: each is one value the option takes (make `{}` a unit variant, and its data an option of its own)",
                    v.ident
                ),
            );
        }
        if let (Some(null), Some(_)) = (&v.attrs.null, &v.attrs.rename) {
            cx.error_spanned_by(
                null,
                "a variant is written either as `null` or as a string, not both: remove `null` or `rename`",
            );
            continue;
        }
        let name = v.written();
        if let Some((_, first)) = written.iter().find(|(w, _)| *w == name) {
            let what = name
                .as_ref()
                .map_or_else(|| "`null`".to_string(), |n| format!("\"{n}\""));
            let fix = if name.is_some() {
                "give one a different #[option(rename = \"..\")]"
            } else {
                "only one variant can be `null`"
            };
            cx.error_spanned_by(
                v.ident,
                format!(
                    "`{first}` and `{}` are both written as {what} in state dicts: {fix}",
                    v.ident
                ),
            );
        } else {
            written.push((name, v.ident));
        }
    }
}
