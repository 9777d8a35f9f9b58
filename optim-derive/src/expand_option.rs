//! `#[derive(OptionValue)]`: an enum of unit variants as an option, written in state dicts
//! as torch writes such options, a string per variant (`"strong_wolfe"`, the variant's
//! name in snake case unless renamed) or `null` for the variant marked `#[option(null)]`
//! (torch's `None`).
//!
//! Parsed, checked and expanded here in one file: the input is small and has no options
//! language of its own.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields, Ident, LitStr};

use crate::ctxt::Ctxt;
use crate::expand::root;

/// One variant and how it is written.
struct Variant<'a> {
    ident: &'a Ident,
    /// `None`: written as `null`.
    name: Option<String>,
}

/// `MatchRmsAdamw` → `match_rms_adamw`.
fn snake_case(ident: &Ident) -> String {
    let mut out = String::new();
    for (i, c) in ident.to_string().chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The expansion, or the errors (recorded in `cx`) when the input is not an enum of unit
/// variants with distinct names.
pub fn option_value(cx: &Ctxt, input: &DeriveInput) -> TokenStream {
    let mut krate = None;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("option")) {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                let value = meta.value()?;
                krate = Some(if value.peek(LitStr) {
                    value.parse::<LitStr>()?.parse::<syn::Path>()?
                } else {
                    value.parse::<syn::Path>()?
                });
                Ok(())
            } else {
                Err(meta.error("unknown key in #[option(..)] on an enum: expected `crate`"))
            }
        });
        if let Err(e) = result {
            cx.syn_error(e);
        }
    }
    let Data::Enum(data) = &input.data else {
        cx.error_spanned_by(
            &input.ident,
            "#[derive(OptionValue)] works on enums of unit variants (one per value the option takes)",
        );
        return TokenStream::new();
    };
    let mut variants = Vec::new();
    for v in &data.variants {
        if !matches!(v.fields, Fields::Unit) {
            cx.error_spanned_by(
                &v.ident,
                "an option's variants carry no data: each is one value the option takes",
            );
        }
        let mut name = Some(snake_case(&v.ident));
        let mut renamed = false;
        for attr in v.attrs.iter().filter(|a| a.path().is_ident("option")) {
            let result = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("rename") {
                    name = Some(meta.value()?.parse::<LitStr>()?.value());
                    renamed = true;
                    Ok(())
                } else if meta.path.is_ident("null") {
                    name = None;
                    Ok(())
                } else {
                    Err(meta.error("unknown key in #[option(..)] on a variant: expected `rename = \"..\"` or `null`"))
                }
            });
            if let Err(e) = result {
                cx.syn_error(e);
            }
        }
        if renamed && name.is_none() {
            cx.error_spanned_by(
                &v.ident,
                "a variant is written either as `null` or as a string, not both",
            );
        }
        if let Some(first) = variants.iter().find(|w: &&Variant| w.name == name) {
            let what = name
                .as_ref()
                .map_or_else(|| "`null`".to_string(), |n| format!("\"{n}\""));
            cx.error_spanned_by(
                &v.ident,
                format!("`{}` and `{}` are both written as {what}", first.ident, v.ident),
            );
        }
        variants.push(Variant { ident: &v.ident, name });
    }
    if cx.has_errors() {
        return TokenStream::new();
    }
    let root = root(&krate);
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let names: Vec<String> = variants
        .iter()
        .map(|v| {
            v.name
                .as_ref()
                .map_or_else(|| "null".to_string(), |n| format!("\"{n}\""))
        })
        .collect();
    let expected = match names.as_slice() {
        [] => "nothing".to_string(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    };
    let to_value = variants.iter().map(|v| {
        let vi = v.ident;
        match &v.name {
            Some(n) => quote!(#ident::#vi => #root::DictValue::Str(::std::string::String::from(#n)),),
            None => quote!(#ident::#vi => #root::DictValue::Null,),
        }
    });
    let from_str = variants.iter().filter_map(|v| {
        let vi = v.ident;
        v.name
            .as_ref()
            .map(|n| quote!(#n => ::core::option::Option::Some(#ident::#vi),))
    });
    let from_null = match variants.iter().find(|v| v.name.is_none()) {
        Some(v) => {
            let vi = v.ident;
            quote!(::core::option::Option::Some(#ident::#vi))
        }
        None => quote!(::core::option::Option::None),
    };
    quote! {
        #[automatically_derived]
        impl #impl_generics #root::OptionValue for #ident #ty_generics #where_clause {
            fn expected() -> ::std::string::String {
                ::std::string::String::from(#expected)
            }
            fn to_value(&self) -> #root::DictValue<'static> {
                match self {
                    #(#to_value)*
                }
            }
            fn from_value(value: &#root::DictValue<'_>) -> ::core::option::Option<Self> {
                match value {
                    #root::DictValue::Str(s) => match s.as_str() {
                        #(#from_str)*
                        _ => ::core::option::Option::None,
                    },
                    #root::DictValue::Null => #from_null,
                    _ => ::core::option::Option::None,
                }
            }
        }
    }
}
