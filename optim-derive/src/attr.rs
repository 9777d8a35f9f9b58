//! Parsing of `#[optimizer(..)]`, `#[hyper(..)]`, `#[state(..)]` and `#[option(..)]`
//! attributes into plain data.
//! Unknown and repeated keys are recorded as errors pointing at the key.

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, Ident, LitInt, LitStr, Path, Type};

use crate::ctxt::Ctxt;

/// A `check` on options: an expression that must hold, and an optional message (a format
/// string that may name options, `"invalid learning rate: {lr}"`, with optional arguments,
/// `"invalid beta parameter at index 0: {}", betas.0`).
pub struct Check {
    pub expr: Expr,
    pub message: Option<LitStr>,
    pub args: Vec<Expr>,
}

/// The update form named by `update = ...`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum UpdateForm {
    Elementwise,
    PerTensor,
    Closure,
}

/// The state type named by `state = ...`.
pub enum StateSpec {
    /// `state = ()`: no state.
    Unit,
    /// `state = Path` (generic over the element type: `Path<A>` is used) or `state = Path<..>`.
    Path(Path),
}

/// `#[optimizer(..)]` on the struct.
#[derive(Default)]
pub struct ContainerAttrs {
    pub kind: Option<LitStr>,
    pub state: Option<(StateSpec, Span)>,
    pub update: Option<(UpdateForm, Ident)>,
    pub options: Option<Ident>,
    pub version: Option<LitInt>,
    pub checks: Vec<Check>,
    /// The span of the first `#[optimizer]` attribute's name, for errors about missing keys.
    pub span: Option<Span>,
    /// Whether `state` or `update` was given but unusable (already reported), so that it is
    /// not reported missing as well.
    pub state_given: bool,
    pub update_given: bool,
    /// `crate = path`: where the generated code finds the library (default `optimizers`).
    pub krate: Option<Path>,
    /// `defaults(name = value, ..)`: a variant's own defaults for options of its base (a
    /// variant is a tuple struct wrapping its base: `struct AdamW(Adam);`).
    pub defaults: Vec<(Ident, Expr)>,
    /// The `defaults` key itself, for errors.
    pub defaults_key: Option<Ident>,
    /// `eager_state`: state is created for every parameter of the constructor's groups when
    /// the optimizer is built (torch's Adagrad), not at a parameter's first gradient.
    pub eager_state: Option<Ident>,
    /// `param_check(expr, "message", args..)`: a requirement on every parameter's `shape`.
    pub param_checks: Vec<Check>,
}

/// `#[hyper(..)]` on a field.
#[derive(Default)]
pub struct FieldAttrs {
    pub required: Option<Ident>,
    pub default: Option<Expr>,
    pub checks: Vec<Check>,
    pub rename: Option<LitStr>,
    /// `range = a..b` or `range(a..b, "message", args..)` (its `expr` is the range).
    pub range: Option<(Check, Ident)>,
    /// `finite` or `finite("message", args..)` (its `expr` is unused: `true`).
    pub finite: Option<(Check, Ident)>,
    /// `invalid("message")`: the message when a state dict or config gives a value the
    /// option's type cannot read (`"mode {value} is unknown!"`); `{value}` is that value.
    pub invalid: Option<LitStr>,
}

/// `#[state(..)]` on a field of a state struct.
#[derive(Default)]
pub struct StateFieldAttrs {
    pub rename: Option<LitStr>,
    pub skip: Option<Ident>,
    pub flatten: Option<Ident>,
    /// `shape = path`: a tensor not shaped like its parameter, whose shape is
    /// `path(parameter_shape)` (`None`: absent for that parameter).
    pub shape: Option<Expr>,
}

/// `#[option(..)]` on a variant of an option enum.
#[derive(Default)]
pub struct OptionVariantAttrs {
    /// `rename = ".."`: the string the variant is written as.
    pub rename: Option<LitStr>,
    /// `null`: the variant is written as `null` (torch's `None`).
    pub null: Option<Ident>,
}

/// Sets `slot` once; a second time is an error at the key.
fn set_once<T>(cx: &Ctxt, meta: &ParseNestedMeta, slot: &mut Option<T>, value: T) {
    if slot.is_some() {
        cx.error_spanned_by(&meta.path, format!("duplicate `{}`", path_name(&meta.path)));
    } else {
        *slot = Some(value);
    }
}

fn path_name(path: &Path) -> String {
    path.get_ident().map_or_else(|| "?".to_string(), Ident::to_string)
}

/// Parses `check = expr` or `check(expr)` / `check(expr, "message", args..)`.
pub(crate) fn parse_check(meta: &ParseNestedMeta) -> syn::Result<Check> {
    if meta.input.peek(syn::Token![=]) {
        let expr: Expr = meta.value()?.parse()?;
        return Ok(Check {
            expr,
            message: None,
            args: Vec::new(),
        });
    }
    let content;
    syn::parenthesized!(content in meta.input);
    let expr: Expr = content.parse()?;
    let mut message = None;
    let mut args = Vec::new();
    if content.peek(syn::Token![,]) {
        content.parse::<syn::Token![,]>()?;
        if !content.is_empty() {
            message = Some(content.parse::<LitStr>()?);
        }
        while content.peek(syn::Token![,]) {
            content.parse::<syn::Token![,]>()?;
            if content.is_empty() {
                break;
            }
            args.push(content.parse::<Expr>()?);
        }
    }
    if !content.is_empty() {
        return Err(content.error("expected `check(expression)` or `check(expression, \"message\", arguments..)`"));
    }
    Ok(Check { expr, message, args })
}

/// A key's identifier (for errors that point at it).
fn key_ident(meta: &ParseNestedMeta, fallback: &str) -> Ident {
    meta.path
        .get_ident()
        .cloned()
        .unwrap_or_else(|| Ident::new(fallback, Span::call_site()))
}

/// Parses a bare key (`finite`) or `key("message", args..)`: a check whose condition the
/// key implies.
fn parse_message_only(meta: &ParseNestedMeta) -> syn::Result<Check> {
    let mut check = Check {
        expr: syn::parse_quote!(true),
        message: None,
        args: Vec::new(),
    };
    if !meta.input.peek(syn::token::Paren) {
        return Ok(check);
    }
    let content;
    syn::parenthesized!(content in meta.input);
    if !content.is_empty() {
        check.message = Some(content.parse::<LitStr>()?);
    }
    while content.peek(syn::Token![,]) {
        content.parse::<syn::Token![,]>()?;
        if content.is_empty() {
            break;
        }
        check.args.push(content.parse::<Expr>()?);
    }
    if !content.is_empty() {
        return Err(content.error("expected `finite` or `finite(\"message\", arguments..)`"));
    }
    Ok(check)
}

/// Runs `parse` over every attribute named `name`, recording errors in `cx`.
fn each_attr(cx: &Ctxt, attrs: &[Attribute], name: &str, mut parse: impl FnMut(ParseNestedMeta) -> syn::Result<()>) {
    for attr in attrs.iter().filter(|a| a.path().is_ident(name)) {
        if let Err(e) = attr.parse_nested_meta(&mut parse) {
            cx.syn_error(e);
        }
    }
}

/// Parses `#[optimizer(kind = "..", state = .., update = .., options = .., version = .., check(..))]`.
pub fn container(cx: &Ctxt, attrs: &[Attribute]) -> ContainerAttrs {
    let mut out = ContainerAttrs {
        span: attrs
            .iter()
            .find(|a| a.path().is_ident("optimizer"))
            .map(|a| a.path().span()),
        ..ContainerAttrs::default()
    };
    each_attr(cx, attrs, "optimizer", |meta| {
        let key = path_name(&meta.path);
        match key.as_str() {
            "kind" => {
                let lit: LitStr = meta.value()?.parse()?;
                set_once(cx, &meta, &mut out.kind, lit);
            }
            "state" => {
                out.state_given = true;
                let ty: Type = meta.value()?.parse()?;
                let span = ty.span();
                let spec = match ty {
                    Type::Tuple(t) if t.elems.is_empty() => StateSpec::Unit,
                    Type::Path(p) if p.qself.is_none() => StateSpec::Path(p.path),
                    other => {
                        cx.error_spanned_by(other, "`state` must name a struct (`state = MyState`) or be `()`");
                        return Ok(());
                    }
                };
                set_once(cx, &meta, &mut out.state, (spec, span));
            }
            "update" => {
                out.update_given = true;
                let ident: Ident = meta.value()?.parse()?;
                let form = match ident.to_string().as_str() {
                    "elementwise" => UpdateForm::Elementwise,
                    "per_tensor" => UpdateForm::PerTensor,
                    "closure" => UpdateForm::Closure,
                    _ => {
                        cx.error_spanned_by(
                            &ident,
                            format!("unknown update form `{ident}`: expected `elementwise`, `per_tensor` or `closure`"),
                        );
                        return Ok(());
                    }
                };
                set_once(cx, &meta, &mut out.update, (form, ident));
            }
            "options" => {
                let ident: Ident = meta.value()?.parse()?;
                set_once(cx, &meta, &mut out.options, ident);
            }
            "version" => {
                let lit: LitInt = meta.value()?.parse()?;
                set_once(cx, &meta, &mut out.version, lit);
            }
            "check" => out.checks.push(parse_check(&meta)?),
            "crate" => {
                let path = parse_crate(&meta)?;
                set_once(cx, &meta, &mut out.krate, path);
            }
            "defaults" => {
                let key_ident = key_ident(&meta, "defaults");
                if out.defaults_key.is_some() {
                    cx.error_spanned_by(&meta.path, "duplicate `defaults`");
                }
                out.defaults_key = Some(key_ident);
                meta.parse_nested_meta(|inner| {
                    let Some(name) = inner.path.get_ident().cloned() else {
                        return Err(inner.error("expected an option name: `defaults(weight_decay = 1e-2)`"));
                    };
                    let value: Expr = inner.value()?.parse()?;
                    if out.defaults.iter().any(|(n, _)| *n == name) {
                        cx.error_spanned_by(&name, format!("duplicate default for `{name}`"));
                    } else {
                        out.defaults.push((name, value));
                    }
                    Ok(())
                })?;
            }
            "eager_state" => {
                let ident = key_ident(&meta, "eager_state");
                set_once(cx, &meta, &mut out.eager_state, ident);
            }
            "param_check" => out.param_checks.push(parse_check(&meta)?),
            _ => {
                cx.error_spanned_by(
                    &meta.path,
                    format!(
                        "unknown key `{key}` in #[optimizer(..)]: expected `state`, `update`, `kind`, `options`, `version`, `check`, `param_check`, `eager_state`, `defaults` or `crate`"
                    ),
                );
                skip_value(&meta)?;
            }
        }
        Ok(())
    });
    out
}

/// Parses `#[hyper(required, default = .., check = .., rename = "..", invalid("..")]`.
pub fn field(cx: &Ctxt, attrs: &[Attribute]) -> FieldAttrs {
    let mut out = FieldAttrs::default();
    each_attr(cx, attrs, "hyper", |meta| {
        let key = path_name(&meta.path);
        match key.as_str() {
            "required" => {
                let ident = meta
                    .path
                    .get_ident()
                    .cloned()
                    .unwrap_or_else(|| Ident::new("required", Span::call_site()));
                set_once(cx, &meta, &mut out.required, ident);
            }
            "default" => {
                let expr: Expr = meta.value()?.parse()?;
                set_once(cx, &meta, &mut out.default, expr);
            }
            "rename" => {
                let lit: LitStr = meta.value()?.parse()?;
                set_once(cx, &meta, &mut out.rename, lit);
            }
            "check" => out.checks.push(parse_check(&meta)?),
            "range" => {
                let check = parse_check(&meta)?;
                let ident = key_ident(&meta, "range");
                set_once(cx, &meta, &mut out.range, (check, ident));
            }
            "finite" => {
                let check = parse_message_only(&meta)?;
                let ident = key_ident(&meta, "finite");
                set_once(cx, &meta, &mut out.finite, (check, ident));
            }
            "invalid" => {
                let expected = |e: syn::Error| {
                    syn::Error::new(
                        e.span(),
                        "`invalid` takes the message for a value a state dict or config gives that the option's type cannot read: `invalid(\"mode {value} is unknown!\")`",
                    )
                };
                let message = if meta.input.peek(syn::Token![=]) {
                    meta.value()?.parse::<LitStr>().map_err(expected)?
                } else {
                    let content;
                    syn::parenthesized!(content in meta.input);
                    content.parse::<LitStr>().map_err(expected)?
                };
                set_once(cx, &meta, &mut out.invalid, message);
            }
            _ => {
                cx.error_spanned_by(
                    &meta.path,
                    format!(
                        "unknown key `{key}` in #[hyper(..)]: expected `required`, `default`, `range`, `finite`, `check`, `rename` or `invalid`"
                    ),
                );
                skip_value(&meta)?;
            }
        }
        Ok(())
    });
    out
}

/// `crate = path` or `crate = "path"` (as serde's): the crate the generated code names.
pub(crate) fn parse_crate(meta: &ParseNestedMeta) -> syn::Result<Path> {
    let value = meta.value()?;
    if value.peek(LitStr) {
        value.parse::<LitStr>()?.parse::<Path>()
    } else {
        value.parse::<Path>()
    }
}

/// Parses `#[state(crate = path)]` on a state struct.
pub fn state_container(cx: &Ctxt, attrs: &[Attribute]) -> Option<Path> {
    crate_only(cx, attrs, "state", "a struct", "")
}

/// Parses an attribute whose one key is `crate = path` (on a state struct, on an option
/// enum); `on` and `hint` complete the message for an unknown key.
fn crate_only(cx: &Ctxt, attrs: &[Attribute], name: &str, on: &str, hint: &str) -> Option<Path> {
    let mut krate = None;
    each_attr(cx, attrs, name, |meta| {
        if meta.path.is_ident("crate") {
            let path = parse_crate(&meta)?;
            set_once(cx, &meta, &mut krate, path);
        } else {
            cx.error_spanned_by(
                &meta.path,
                format!(
                    "unknown key `{}` in #[{name}(..)] on {on}: expected `crate`{hint}",
                    path_name(&meta.path)
                ),
            );
            skip_value(&meta)?;
        }
        Ok(())
    });
    krate
}

/// Parses `#[state(rename = "..", skip, flatten)]`.
pub fn state_field(cx: &Ctxt, attrs: &[Attribute]) -> StateFieldAttrs {
    let mut out = StateFieldAttrs::default();
    each_attr(cx, attrs, "state", |meta| {
        let key = path_name(&meta.path);
        match key.as_str() {
            "rename" => {
                let lit: LitStr = meta.value()?.parse()?;
                set_once(cx, &meta, &mut out.rename, lit);
            }
            "skip" => {
                let ident = meta
                    .path
                    .get_ident()
                    .cloned()
                    .unwrap_or_else(|| Ident::new("skip", Span::call_site()));
                set_once(cx, &meta, &mut out.skip, ident);
            }
            "flatten" => {
                let ident = meta
                    .path
                    .get_ident()
                    .cloned()
                    .unwrap_or_else(|| Ident::new("flatten", Span::call_site()));
                set_once(cx, &meta, &mut out.flatten, ident);
            }
            "shape" => {
                let expr: Expr = meta.value()?.parse()?;
                set_once(cx, &meta, &mut out.shape, expr);
            }
            _ => {
                cx.error_spanned_by(
                    &meta.path,
                    format!("unknown key `{key}` in #[state(..)]: expected `rename`, `skip`, `flatten` or `shape`"),
                );
                skip_value(&meta)?;
            }
        }
        Ok(())
    });
    out
}

/// Parses `#[option(crate = path)]` on an option enum.
pub fn option_container(cx: &Ctxt, attrs: &[Attribute]) -> Option<Path> {
    crate_only(cx, attrs, "option", "an enum", " (`rename` and `null` go on a variant)")
}

/// Parses `#[option(rename = "..")]` or `#[option(null)]` on a variant.
pub fn option_variant(cx: &Ctxt, attrs: &[Attribute]) -> OptionVariantAttrs {
    let mut out = OptionVariantAttrs::default();
    each_attr(cx, attrs, "option", |meta| {
        let key = path_name(&meta.path);
        match key.as_str() {
            "rename" => {
                let lit: LitStr = meta.value()?.parse()?;
                set_once(cx, &meta, &mut out.rename, lit);
            }
            "null" => {
                let ident = key_ident(&meta, "null");
                set_once(cx, &meta, &mut out.null, ident);
            }
            _ => {
                cx.error_spanned_by(
                    &meta.path,
                    format!("unknown key `{key}` in #[option(..)] on a variant: expected `rename = \"..\"` or `null`"),
                );
                skip_value(&meta)?;
            }
        }
        Ok(())
    });
    out
}

/// Consumes whatever follows an unknown key (`= value` or `(..)`), so that parsing can go
/// on to the next key and report its errors too.
pub(crate) fn skip_value(meta: &ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<proc_macro2::TokenStream>()?;
    }
    Ok(())
}
