//! Code generation for `#[derive(State)]`.
//!
//! From `struct AdamState<A> { step: f64, exp_avg: ArrayD<A>, max_exp_avg_sq: Option<ArrayD<A>> }`
//! it generates `impl State<A>` (init, pack, unpack with key, shape and type checks) and,
//! for the parameter-shaped tensors, `AdamStateElem<'a, A>` (one `&mut A` per tensor,
//! `Option<&mut A>` per optional tensor) and `AdamStateSlices<'a, A>`, whose `for_each`
//! is the fused pass: one zip over the parameter, its gradient and every tensor, with a
//! loop specialised for each combination of present optional tensors, so that the
//! element function sees constants where the tensors' presence is concerned.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, parse_quote};

use crate::ast::{StateFieldDef, StateStruct, TensorKind};
use crate::expand::root;

/// The expansion. When `valid` is false (the input had errors, reported beside this), the
/// bodies of the packing functions are left out, so that a field whose attributes
/// contradict its type (`shape` on a tensor that is not an `Option`) is reported once, by
/// the derive, and not again by rustc; the elementwise view is still generated for code
/// that names it.
pub fn state(s: &StateStruct, valid: bool) -> TokenStream {
    let root = root(&s.krate);
    let ident = s.ident;
    let elem_param: Ident = s.elem.cloned().unwrap_or_else(|| format_ident!("__A"));
    let a = &elem_param;

    // impl<A: Float, ..> State<A> for S<A, ..>
    let mut generics: syn::Generics = (*s.generics).clone();
    if s.elem.is_none() {
        generics.params.push(parse_quote!(#a));
    }
    generics
        .make_where_clause()
        .predicates
        .push(parse_quote!(#a: #root::Float));
    let (impl_generics, _, where_clause) = generics.split_for_impl();
    let (_, ty_generics, _) = s.generics.split_for_impl();

    let saved: Vec<&StateFieldDef> = s.fields.iter().filter(|f| f.attrs.skip.is_none()).collect();
    let keys = saved.iter().map(|f| {
        let ty = f.ty;
        if f.attrs.flatten.is_some() {
            quote!(keys.extend_from_slice(<#ty as #root::StateEntries<#a>>::KEYS);)
        } else {
            let key = f.key();
            quote!(keys.push(#key);)
        }
    });
    let tensors: Vec<&StateFieldDef> = saved
        .iter()
        .copied()
        .filter(|f| f.tensor != TensorKind::Other)
        .collect();

    let init = s.fields.iter().map(|f| {
        let (name, ty) = (f.ident, f.ty);
        if f.attrs.skip.is_some() {
            quote!(#name: ::core::default::Default::default(),)
        } else if f.attrs.flatten.is_some() {
            quote!(#name: <#ty as #root::StateEntries<#a>>::init(ctx),)
        } else if let Some(shape) = &f.attrs.shape {
            quote!(#name: #root::init_shaped::<#a>(#shape(ctx.shape)),)
        } else {
            let field_trait = quote_spanned!(ty.span()=> <#ty as #root::StateField<#a>>);
            quote!(#name: #field_trait::init(ctx),)
        }
    });
    let pack = saved.iter().map(|f| {
        let (name, ty, key) = (f.ident, f.ty, f.key());
        if f.attrs.flatten.is_some() {
            quote!(<#ty as #root::StateEntries<#a>>::pack(&self.#name, &mut entry);)
        } else {
            let field_trait = quote_spanned!(ty.span()=> <#ty as #root::StateField<#a>>);
            quote! {
                if let ::core::option::Option::Some(value) = #field_trait::pack(&self.#name) {
                    entry.insert(#key, value);
                }
            }
        }
    });
    let unpack = s.fields.iter().map(|f| {
        let (name, ty, key) = (f.ident, f.ty, f.key());
        if f.attrs.skip.is_some() {
            quote!(#name: ::core::default::Default::default(),)
        } else if f.attrs.flatten.is_some() {
            quote!(#name: <#ty as #root::StateEntries<#a>>::unpack(entry, ctx)?,)
        } else if let Some(shape) = &f.attrs.shape {
            quote! {
                #name: #root::unpack_shaped::<#a>(entry.get(#key), #shape(ctx.shape), ctx.shape)
                    .map_err(|error| #root::StateError { key: ::std::string::String::from(#key), error })?,
            }
        } else {
            // As init and pack: through `<T as StateField<A>>` at the type's span, so that an
            // unsupported field type is reported once.
            let field_trait = quote_spanned!(ty.span()=> <#ty as #root::StateField<#a>>);
            quote! {
                #name: #field_trait::unpack(entry.get(#key), ctx)
                    .map_err(|error| #root::StateError { key: ::std::string::String::from(#key), error })?,
            }
        }
    });

    let prefetches = tensors.iter().map(|f| {
        let name = f.ident;
        match f.tensor {
            TensorKind::OptionalTensor => quote! {
                if let ::core::option::Option::Some(t) = &self.#name {
                    #root::prefetch_tensor(t);
                }
            },
            _ => quote!(#root::prefetch_tensor(&self.#name);),
        }
    });
    let prefetch_fn = quote! {
        #[inline(always)]
        fn prefetch(&self) {
            #(#prefetches)*
        }
    };
    let (elem_ty, slices_ty, slices_fn, extra) = if tensors.is_empty() {
        (
            quote!(()),
            quote!(()),
            quote!(
                fn slices(&mut self) -> Self::Slices<'_> {}
            ),
            quote!(),
        )
    } else {
        let elem_ident = format_ident!("{}Elem", ident);
        let slices_ident = format_ident!("{}Slices", ident);
        let slice_fields = tensors.iter().map(|f| {
            let name = f.ident;
            match f.tensor {
                TensorKind::OptionalTensor => {
                    quote!(#name: self.#name.as_mut().map(|t| #root::tensor_slice_mut(t)),)
                }
                _ => quote!(#name: #root::tensor_slice_mut(&mut self.#name),),
            }
        });
        (
            quote!(#elem_ident<'a, #a>),
            quote!(#slices_ident<'a, #a>),
            quote! {
                fn slices(&mut self) -> Self::Slices<'_> {
                    #slices_ident { #(#slice_fields)* }
                }
            },
            elementwise_view(s, &tensors, a, &elem_ident, &slices_ident),
        )
    };

    let body = |tokens: TokenStream| {
        if valid {
            tokens
        } else {
            quote!(::core::unimplemented!())
        }
    };
    let keys = body(quote! {
        let mut keys = ::std::vec::Vec::new();
        #(#keys)*
        keys
    });
    let init = body(quote!(Self { #(#init)* }));
    let pack = body(quote! {
        let mut entry = #root::Map::new();
        #(#pack)*
        entry
    });
    let unpack = body(quote! {
        #root::check_state_keys(entry, &<Self as #root::State<#a>>::keys())?;
        ::core::result::Result::Ok(Self { #(#unpack)* })
    });

    quote! {
        #[automatically_derived]
        #[allow(unused_variables, unreachable_code, clippy::all, clippy::pedantic, clippy::nursery)]
        impl #impl_generics #root::State<#a> for #ident #ty_generics #where_clause {
            fn keys() -> ::std::vec::Vec<&'static str> {
                #keys
            }
            type Elem<'a> = #elem_ty;
            type Slices<'a> = #slices_ty;

            fn init(ctx: &#root::ShapeCtx<'_>) -> Self {
                #init
            }
            fn pack(&self) -> #root::Map<'_> {
                #pack
            }
            fn unpack(entry: &#root::Map<'_>, ctx: &#root::ShapeCtx<'_>) -> ::core::result::Result<Self, #root::StateError> {
                #unpack
            }
            #slices_fn
            #prefetch_fn
        }

        #extra
    }
}

/// The `{State}Elem` and `{State}Slices` types and the fused pass.
fn elementwise_view(
    s: &StateStruct,
    tensors: &[&StateFieldDef],
    a: &Ident,
    elem: &Ident,
    slices: &Ident,
) -> TokenStream {
    let root = root(&s.krate);
    let vis = s.vis;
    let state = s.ident;
    let elem_doc = format!(
        "One element of each parameter-shaped tensor of [`{state}`], as an elementwise update sees it. Generated by `#[derive(State)]`."
    );
    let slices_doc = format!(
        "The parameter-shaped tensors of [`{state}`] as slices, for the fused pass. Generated by `#[derive(State)]`."
    );
    let names: Vec<&Ident> = tensors.iter().map(|f| f.ident).collect();
    let elem_fields = tensors.iter().map(|f| {
        let name = f.ident;
        let doc = format!("This element of `{}`.", f.key());
        match f.tensor {
            TensorKind::OptionalTensor => quote!(#[doc = #doc] pub #name: ::core::option::Option<&'a mut #a>,),
            _ => quote!(#[doc = #doc] pub #name: &'a mut #a,),
        }
    });
    let slice_fields = tensors.iter().map(|f| {
        let name = f.ident;
        let doc = format!("The elements of `{}`.", f.key());
        match f.tensor {
            TensorKind::OptionalTensor => quote!(#[doc = #doc] pub #name: ::core::option::Option<&'a mut [#a]>,),
            _ => quote!(#[doc = #doc] pub #name: &'a mut [#a],),
        }
    });
    let split = tensors.iter().map(|f| {
        let name = f.ident;
        let (l, r) = (format_ident!("{}_left", name), format_ident!("{}_right", name));
        match f.tensor {
            TensorKind::OptionalTensor => quote! {
                let (#l, #r) = match #name {
                    ::core::option::Option::Some(s) => {
                        let (x, y) = s.split_at_mut(mid);
                        (::core::option::Option::Some(x), ::core::option::Option::Some(y))
                    }
                    ::core::option::Option::None => (::core::option::Option::None, ::core::option::Option::None),
                };
            },
            _ => quote!(let (#l, #r) = #name.split_at_mut(mid);),
        }
    });
    let lefts = names.iter().map(|n| format_ident!("{}_left", n));
    let rights = names.iter().map(|n| format_ident!("{}_right", n));
    let for_each_body = fused_loops(&root, tensors, elem);
    let names2 = names.clone();

    quote! {
        #[doc = #elem_doc]
        #vis struct #elem<'a, #a> {
            #(#elem_fields)*
        }

        #[doc = #slices_doc]
        #vis struct #slices<'a, #a> {
            #(#slice_fields)*
        }

        #[automatically_derived]
        #[allow(clippy::all, clippy::pedantic, clippy::nursery)]
        impl<'a, #a: #root::Float> #root::Slices<'a, #a> for #slices<'a, #a> {
            type Elem = #elem<'a, #a>;

            fn split_at(self, mid: usize) -> (Self, Self) {
                let #slices { #(#names),* } = self;
                #(#split)*
                (#slices { #(#names2: #lefts),* }, #slices { #(#names: #rights),* })
            }

            #[inline(always)]
            fn for_each<F: ::core::ops::FnMut(&'a mut #a, #a, Self::Elem)>(self, param: &'a mut [#a], grad: &'a [#a], mut f: F) {
                #for_each_body
            }
        }
    }
}

/// One loop per combination of present optional tensors, after checking that every slice
/// has the parameter's length (a shorter one would leave part of the parameter silently
/// without its update: the zipped loop stops at the shortest).
fn fused_loops(root: &TokenStream, tensors: &[&StateFieldDef], elem: &Ident) -> TokenStream {
    let names: Vec<&Ident> = tensors.iter().map(|f| f.ident).collect();
    let optional: Vec<&Ident> = tensors
        .iter()
        .filter(|f| f.tensor == TensorKind::OptionalTensor)
        .map(|f| f.ident)
        .collect();
    let checks = tensors.iter().map(|f| {
        let (name, key) = (f.ident, f.key());
        match f.tensor {
            TensorKind::OptionalTensor => quote! {
                if let ::core::option::Option::Some(s) = &#name {
                    #root::check_pass_len(#key, s.len(), param.len());
                }
            },
            _ => quote!(#root::check_pass_len(#key, #name.len(), param.len());),
        }
    });
    let destructure = quote! {
        let Self { #(#names),* } = self;
        ::core::assert_eq!(grad.len(), param.len(), "a gradient has its parameter's element count");
        #(#checks)*
    };

    // The loop for one combination: `present[i]` says whether optional tensor i is there.
    let one_loop = |present: &[bool]| {
        let mut iter = quote!(param.iter_mut().zip(grad.iter()));
        let mut pattern = quote!((p, g));
        let mut fields = Vec::new();
        for f in tensors {
            let name = f.ident;
            let is_present = match f.tensor {
                TensorKind::OptionalTensor => {
                    let i = optional.iter().position(|o| *o == name).unwrap_or(0);
                    present[i]
                }
                _ => true,
            };
            if is_present {
                iter = quote!(#iter.zip(#name.iter_mut()));
                pattern = quote!((#pattern, #name));
            }
            fields.push(match (f.tensor, is_present) {
                (TensorKind::OptionalTensor, true) => quote!(#name: ::core::option::Option::Some(#name)),
                (TensorKind::OptionalTensor, false) => quote!(#name: ::core::option::Option::None),
                _ => quote!(#name),
            });
        }
        quote! {
            for #pattern in #iter {
                f(p, *g, #elem { #(#fields),* });
            }
        }
    };

    if optional.is_empty() {
        let body = one_loop(&[]);
        return quote!(#destructure #body);
    }
    let arms = (0..1usize << optional.len()).map(|mask| {
        let present: Vec<bool> = (0..optional.len()).map(|i| mask & (1 << i) != 0).collect();
        let patterns = optional.iter().zip(&present).map(|(name, &p)| {
            if p {
                quote!(::core::option::Option::Some(#name))
            } else {
                quote!(::core::option::Option::None)
            }
        });
        let body = one_loop(&present);
        quote!((#(#patterns,)*) => { #body })
    });
    quote! {
        #destructure
        match (#(#optional,)*) {
            #(#arms)*
        }
    }
}
