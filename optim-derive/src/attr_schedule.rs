//! Parsing of a `#[derive(Schedule)]` input: the `#[schedule(..)]` attribute into plain
//! data, and the struct's fields (with their `#[hyper(..)]` attributes, parsed as an
//! optimizer's are) into the same [`Hyper`] an optimizer's options are, so that the options
//! language is one language.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{DeriveInput, Ident, Type};

use crate::ast::{Hyper, hyper_fields, named_fields};
use crate::attr::{self, ContainerAttrs};
use crate::ctxt::Ctxt;

/// How a schedule is stepped, named by `form = ..`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `form = epochs` (the default): `step()`, torch's `LRScheduler`.
    Epochs,
    /// `form = metric`: `step(metric)`, torch's `ReduceLROnPlateau`.
    Metric,
}

/// A struct under `#[derive(Schedule)]`: its options, as an optimizer's, and what only a
/// schedule declares.
pub struct ScheduleInput<'a> {
    /// The options (and `kind`, `options`, `version`, `check`, `crate`).
    pub hyper: Hyper<'a>,
    /// `form = ..`, and the key's identifier for errors.
    pub form: (Form, Option<Ident>),
    /// `state = Type`: the schedule's state beyond the common counters.
    pub state: Option<Type>,
}

/// The keys `#[schedule(..)]` takes.
const KEYS: &str = "`kind`, `form`, `state`, `options`, `version`, `check` or `crate`";

/// Reads a `#[derive(Schedule)]` input; `None` when it is not a struct with named fields.
pub fn schedule<'a>(cx: &Ctxt, input: &'a DeriveInput) -> Option<ScheduleInput<'a>> {
    let mut attrs = ContainerAttrs {
        span: input
            .attrs
            .iter()
            .find(|a| a.path().is_ident("schedule"))
            .map(|a| a.path().span()),
        ..ContainerAttrs::default()
    };
    let mut form = (Form::Epochs, None);
    let mut form_seen = false;
    let mut state: Option<Type> = None;
    for a in input.attrs.iter().filter(|a| a.path().is_ident("schedule")) {
        let result = a.parse_nested_meta(|meta| {
            let key = meta.path.get_ident().map_or_else(|| "?".to_string(), Ident::to_string);
            let duplicate = |cx: &Ctxt| cx.error_spanned_by(&meta.path, format!("duplicate `{key}`"));
            match key.as_str() {
                "kind" => {
                    let lit: syn::LitStr = meta.value()?.parse()?;
                    if attrs.kind.replace(lit).is_some() {
                        duplicate(cx);
                    }
                }
                "options" => {
                    let ident: Ident = meta.value()?.parse()?;
                    if attrs.options.replace(ident).is_some() {
                        duplicate(cx);
                    }
                }
                "version" => {
                    let lit: syn::LitInt = meta.value()?.parse()?;
                    if attrs.version.replace(lit).is_some() {
                        duplicate(cx);
                    }
                }
                "check" => attrs.checks.push(attr::parse_check(&meta)?),
                "crate" => {
                    let path = attr::parse_crate(&meta)?;
                    if attrs.krate.replace(path).is_some() {
                        duplicate(cx);
                    }
                }
                "state" => {
                    let ty: Type = meta.value()?.parse()?;
                    if state.replace(ty).is_some() {
                        duplicate(cx);
                    }
                }
                "form" => {
                    let ident: Ident = meta.value()?.parse()?;
                    if form_seen {
                        duplicate(cx);
                    }
                    form_seen = true;
                    match ident.to_string().as_str() {
                        "epochs" => form = (Form::Epochs, Some(ident)),
                        "metric" => form = (Form::Metric, Some(ident)),
                        _ => cx.error_spanned_by(
                            &ident,
                            format!(
                                "unknown schedule form `{ident}`: expected `epochs` (stepped with `step()`, as torch's LRScheduler) or `metric` (stepped with a metric, as torch's ReduceLROnPlateau)"
                            ),
                        ),
                    }
                }
                _ => {
                    cx.error_spanned_by(
                        &meta.path,
                        format!("unknown key `{key}` in #[schedule(..)]: expected {KEYS}"),
                    );
                    attr::skip_value(&meta)?;
                }
            }
            Ok(())
        });
        if let Err(e) = result {
            cx.syn_error(e);
        }
    }
    let fields = hyper_fields(cx, named_fields(cx, input, "Schedule")?);
    Some(ScheduleInput {
        hyper: Hyper {
            ident: &input.ident,
            vis: &input.vis,
            attrs,
            fields,
            base: None,
            generics: &input.generics,
        },
        form,
        state,
    })
}

/// Where to report a problem with the whole attribute.
pub fn attr_span(s: &ScheduleInput) -> Span {
    s.hyper.attrs.span.unwrap_or_else(|| s.hyper.ident.span())
}
