//! Code generation for `#[derive(OptionValue)]`: an enum of unit variants as an option,
//! written in state dicts as torch writes such options, a string per variant
//! (`"strong_wolfe"`, the variant's name in snake case unless renamed) or `null` for the
//! variant marked `#[option(null)]` (torch's `None`).

use proc_macro2::TokenStream;
use quote::quote;

use crate::ast::OptionEnum;
use crate::expand::root;

/// `impl OptionValue`. When `valid` is false (the input had errors, reported beside this),
/// the functions' bodies are left out, so that the optimizers using the enum as an option
/// type report nothing more than the enum's mistakes.
pub fn option_value(e: &OptionEnum, valid: bool) -> TokenStream {
    let root = root(&e.krate);
    let ident = e.ident;
    let (impl_generics, ty_generics, where_clause) = e.generics.split_for_impl();
    let impl_trait = |expected: TokenStream, to_value: TokenStream, from_value: TokenStream| {
        quote! {
            #[automatically_derived]
            #[allow(unused_variables, unreachable_code)]
            impl #impl_generics #root::OptionValue for #ident #ty_generics #where_clause {
                fn expected() -> ::std::string::String {
                    #expected
                }
                fn to_value(&self) -> #root::DictValue<'static> {
                    #to_value
                }
                fn from_value(value: &#root::DictValue<'_>) -> ::core::option::Option<Self> {
                    #from_value
                }
            }
        }
    };
    if !valid {
        let missing = quote!(::core::unimplemented!());
        return impl_trait(missing.clone(), missing.clone(), missing);
    }

    let written: Vec<(&syn::Ident, Option<String>)> = e.variants.iter().map(|v| (v.ident, v.written())).collect();
    let shown: Vec<String> = written
        .iter()
        .map(|(_, w)| w.as_ref().map_or_else(|| "null".to_string(), |n| format!("\"{n}\"")))
        .collect();
    let expected = match shown.as_slice() {
        [] => "nothing".to_string(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    };
    let to_value = written.iter().map(|(v, w)| match w {
        Some(n) => quote!(#ident::#v => #root::DictValue::Str(::std::string::String::from(#n)),),
        None => quote!(#ident::#v => #root::DictValue::Null,),
    });
    let from_str = written.iter().filter_map(|(v, w)| {
        w.as_ref()
            .map(|n| quote!(#n => ::core::option::Option::Some(#ident::#v),))
    });
    let from_null = match written.iter().find(|(_, w)| w.is_none()) {
        Some((v, _)) => quote!(::core::option::Option::Some(#ident::#v)),
        None => quote!(::core::option::Option::None),
    };
    impl_trait(
        quote!(::std::string::String::from(#expected)),
        quote! {
            match self {
                #(#to_value)*
            }
        },
        quote! {
            match value {
                #root::DictValue::Str(s) => match s.as_str() {
                    #(#from_str)*
                    _ => ::core::option::Option::None,
                },
                #root::DictValue::Null => #from_null,
                _ => ::core::option::Option::None,
            }
        },
    )
}
