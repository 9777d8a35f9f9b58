//! # optim-derive
//!
//! `#[derive(Optimizer)]`, `#[derive(State)]`, `#[derive(OptionValue)]` and
//! `#[derive(Schedule)]`: declare an optimizer's hyperparameters, its per-parameter state,
//! its enum options, and a learning-rate schedule's options; get the
//! options struct, defaults with `required` options, validation, state-dict conversion,
//! state plumbing and constructors. Use them through the `optimizers` crate, which
//! re-exports them along with everything the generated code needs. Each derive's
//! documentation is its complete reference (`doc/*.md`, also the book's "Derive
//! reference"); its examples run as doctests of `optimizers`.
//!
//! Each derive runs in three stages, as thiserror and serde_derive do: *parse* the input
//! into plain data (modules `ast`, `attr`), *validate* it while accumulating every error
//! with the span of the offending token (`check`, `ctxt`), then *expand* (`expand`,
//! `expand_state`). When validation fails the expansion still emits the generated types
//! with empty bodies, so that the user sees their mistakes, not a cascade.

pub(crate) mod ast;
mod attr;
mod attr_schedule;
mod check;
mod check_schedule;
mod ctxt;
mod expand;
mod expand_option;
mod expand_schedule;
mod expand_state;
mod expand_variant;
mod idents;
mod render;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

use crate::ast::{Hyper, OptionEnum, StateStruct};
use crate::ctxt::Ctxt;

#[doc = concat!(include_str!("../doc/optimizer.md"), include_str!("../doc/rustdoc-links.md"))]
#[proc_macro_derive(Optimizer, attributes(optimizer, hyper))]
pub fn derive_optimizer(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    let cx = Ctxt::default();
    let Some(hyper) = Hyper::from_input(&cx, &input) else {
        return errors(cx);
    };
    check::hyper(&cx, &hyper);
    expand::optimizer(&hyper, cx.check().err()).into()
}

#[doc = include_str!("../doc/schedule.md")]
#[proc_macro_derive(Schedule, attributes(schedule, hyper))]
pub fn derive_schedule(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    let cx = Ctxt::default();
    let Some(schedule) = attr_schedule::schedule(&cx, &input) else {
        return errors(cx);
    };
    check_schedule::schedule(&cx, &schedule);
    let mut out = expand_schedule::schedule(&schedule, !cx.has_errors());
    if let Err(e) = cx.check() {
        out.extend(e.to_compile_error());
    }
    out.into()
}

#[doc = concat!(include_str!("../doc/state.md"), include_str!("../doc/rustdoc-links.md"))]
#[proc_macro_derive(State, attributes(state))]
pub fn derive_state(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    let cx = Ctxt::default();
    let Some(state) = StateStruct::from_input(&cx, &input) else {
        return errors(cx);
    };
    check::state(&cx, &state);
    // As for optimizers: with errors, the expansion is still emitted (unless the generics
    // themselves are wrong, which every generated item would repeat), with its bodies left
    // out, so that code using the state's generated types reports nothing more than the
    // mistakes.
    let mut out = if check::state_generics_ok(&state) {
        expand_state::state(&state, !cx.has_errors())
    } else {
        proc_macro2::TokenStream::new()
    };
    if let Err(e) = cx.check() {
        out.extend(e.to_compile_error());
    }
    out.into()
}

fn errors(cx: Ctxt) -> TokenStream {
    match cx.check() {
        Err(e) => e.to_compile_error().into(),
        Ok(()) => TokenStream::new(),
    }
}

#[doc = concat!(include_str!("../doc/option_value.md"), include_str!("../doc/rustdoc-links.md"))]
#[proc_macro_derive(OptionValue, attributes(option))]
pub fn derive_option_value(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    let cx = Ctxt::default();
    let Some(option) = OptionEnum::from_input(&cx, &input) else {
        return errors(cx);
    };
    check::option_enum(&cx, &option);
    let mut out = expand_option::option_value(&option, !cx.has_errors());
    if let Err(e) = cx.check() {
        out.extend(e.to_compile_error());
    }
    out.into()
}
