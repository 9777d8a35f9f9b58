//! The derive inputs as plain data: a hyperparameter struct and its fields, a state struct
//! and its fields, an option enum and its variants. Parsing records errors in the context
//! and returns what it could read.

use syn::{Attribute, Data, DeriveInput, Fields, GenericArgument, Ident, PathArguments, Type, Visibility};

use crate::attr::{self, ContainerAttrs, FieldAttrs, OptionVariantAttrs, StateFieldAttrs};
use crate::ctxt::Ctxt;

/// A struct under `#[derive(Optimizer)]`: options as named fields, or a *variant*, a tuple
/// struct wrapping another optimizer (`struct AdamW(Adam);`) with its own defaults.
pub struct Hyper<'a> {
    pub ident: &'a Ident,
    pub vis: &'a Visibility,
    pub attrs: ContainerAttrs,
    pub fields: Vec<HyperField<'a>>,
    /// A variant's base optimizer (the one field's type).
    pub base: Option<&'a Type>,
    pub generics: &'a syn::Generics,
}

/// One option: a field of that struct.
pub struct HyperField<'a> {
    pub ident: &'a Ident,
    pub ty: &'a Type,
    pub attrs: FieldAttrs,
    pub docs: Vec<&'a Attribute>,
}

impl HyperField<'_> {
    /// The option's name in state dicts: `rename`, else the field's name.
    pub fn key(&self) -> String {
        self.attrs
            .rename
            .as_ref()
            .map_or_else(|| self.ident.to_string(), syn::LitStr::value)
    }

    /// Whether the field's type is `Option<..>`, whose default is `None`.
    pub fn is_option(&self) -> bool {
        option_inner(self.ty).is_some()
    }
}

/// A struct under `#[derive(State)]`.
pub struct StateStruct<'a> {
    pub ident: &'a Ident,
    /// `#[state(crate = path)]`.
    pub krate: Option<syn::Path>,
    pub vis: &'a Visibility,
    /// The element type parameter (`A` in `MyState<A>`), if the struct has one.
    pub elem: Option<&'a Ident>,
    pub fields: Vec<StateFieldDef<'a>>,
    pub generics: &'a syn::Generics,
}

/// What a state field is to the elementwise pass.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TensorKind {
    /// Not a parameter-shaped tensor: packed, but not part of the elementwise view.
    Other,
    /// `ArrayD<A>`: one element per parameter element.
    Tensor,
    /// `Option<ArrayD<A>>`: as `Tensor`, when present.
    OptionalTensor,
}

/// One field of a state struct.
pub struct StateFieldDef<'a> {
    pub ident: &'a Ident,
    pub ty: &'a Type,
    pub attrs: StateFieldAttrs,
    pub tensor: TensorKind,
}

impl StateFieldDef<'_> {
    /// The entry's name in state dicts.
    pub fn key(&self) -> String {
        self.attrs
            .rename
            .as_ref()
            .map_or_else(|| self.ident.to_string(), syn::LitStr::value)
    }
}

/// An enum under `#[derive(OptionValue)]`: one unit variant per value the option takes.
pub struct OptionEnum<'a> {
    pub ident: &'a Ident,
    /// `#[option(crate = path)]`.
    pub krate: Option<syn::Path>,
    pub variants: Vec<OptionVariant<'a>>,
    pub generics: &'a syn::Generics,
}

/// One variant of an option enum.
pub struct OptionVariant<'a> {
    pub ident: &'a Ident,
    pub fields: &'a Fields,
    pub attrs: OptionVariantAttrs,
}

impl OptionVariant<'_> {
    /// How the variant is written in state dicts: `None` for `null` (`#[option(null)]`), else
    /// the string: its `rename`, or its name in snake case (`StrongWolfe` → `strong_wolfe`).
    pub fn written(&self) -> Option<String> {
        if self.attrs.null.is_some() {
            return None;
        }
        Some(
            self.attrs
                .rename
                .as_ref()
                .map_or_else(|| snake_case(self.ident), syn::LitStr::value),
        )
    }
}

/// `MatchRmsAdamw` → `match_rms_adamw`: every uppercase letter starts a word.
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

impl<'a> OptionEnum<'a> {
    /// Reads a `#[derive(OptionValue)]` input; `None` when it is not an enum.
    pub fn from_input(cx: &Ctxt, input: &'a DeriveInput) -> Option<Self> {
        let krate = attr::option_container(cx, &input.attrs);
        let Data::Enum(data) = &input.data else {
            cx.error_spanned_by(
                &input.ident,
                "#[derive(OptionValue)] works on enums of unit variants (one per value the option takes)",
            );
            return None;
        };
        let variants = data
            .variants
            .iter()
            .map(|v| OptionVariant {
                ident: &v.ident,
                fields: &v.fields,
                attrs: attr::option_variant(cx, &v.attrs),
            })
            .collect();
        Some(OptionEnum {
            ident: &input.ident,
            krate,
            variants,
            generics: &input.generics,
        })
    }
}

/// The named fields of a plain struct, or an error naming what the input is instead.
pub(crate) fn named_fields<'a>(cx: &Ctxt, input: &'a DeriveInput, derive: &str) -> Option<&'a syn::FieldsNamed> {
    match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(named) => Some(named),
            Fields::Unnamed(_) => {
                let hint = if derive == "Optimizer" {
                    " (a tuple struct wrapping one optimizer is a variant of it, declared with its `defaults(..)`: `#[optimizer(defaults(weight_decay = 1e-2))] struct AdamW(Adam);`)"
                } else {
                    ""
                };
                cx.error_spanned_by(
                    &input.ident,
                    format!("#[derive({derive})] needs a struct with named fields, not a tuple struct{hint}"),
                );
                None
            }
            Fields::Unit => {
                cx.error_spanned_by(
                    &input.ident,
                    format!("#[derive({derive})] needs a struct with named fields, not a unit struct"),
                );
                None
            }
        },
        Data::Enum(e) => {
            let what = match derive {
                "State" => "a state's entries",
                "Schedule" => "a schedule's options",
                _ => "an optimizer's options",
            };
            cx.error_spanned_by(
                e.enum_token,
                format!("#[derive({derive})] works on structs only: {what} are the fields of a struct"),
            );
            None
        }
        Data::Union(u) => {
            cx.error_spanned_by(
                u.union_token,
                format!("#[derive({derive})] works on structs only, not unions"),
            );
            None
        }
    }
}

impl<'a> Hyper<'a> {
    /// Reads a `#[derive(Optimizer)]` input; `None` when it is not a struct with named fields.
    pub fn from_input(cx: &Ctxt, input: &'a DeriveInput) -> Option<Self> {
        let attrs = attr::container(cx, &input.attrs);
        if let Data::Struct(syn::DataStruct {
            fields: Fields::Unnamed(unnamed),
            ..
        }) = &input.data
            && attrs.defaults_key.is_some()
        {
            if unnamed.unnamed.len() != 1 {
                cx.error_spanned_by(
                    unnamed,
                    "a tuple struct under #[derive(Optimizer)] is a variant of one optimizer and wraps it alone: `struct AdamW(Adam);`",
                );
                return None;
            }
            return Some(Hyper {
                ident: &input.ident,
                vis: &input.vis,
                attrs,
                fields: Vec::new(),
                base: Some(&unnamed.unnamed[0].ty),
                generics: &input.generics,
            });
        }
        let named = named_fields(cx, input, "Optimizer")?;
        let fields = hyper_fields(cx, named);
        Some(Hyper {
            ident: &input.ident,
            vis: &input.vis,
            attrs,
            fields,
            base: None,
            generics: &input.generics,
        })
    }
}

/// The options of a struct's named fields, with their `#[hyper(..)]` attributes and docs
/// (of an optimizer or a schedule).
pub(crate) fn hyper_fields<'a>(cx: &Ctxt, named: &'a syn::FieldsNamed) -> Vec<HyperField<'a>> {
    named
        .named
        .iter()
        .filter_map(|f| {
            Some(HyperField {
                ident: f.ident.as_ref()?,
                ty: &f.ty,
                attrs: attr::field(cx, &f.attrs),
                docs: f.attrs.iter().filter(|a| a.path().is_ident("doc")).collect(),
            })
        })
        .collect()
}

impl<'a> StateStruct<'a> {
    /// Reads a `#[derive(State)]` input; `None` when it is not a struct with named fields.
    pub fn from_input(cx: &Ctxt, input: &'a DeriveInput) -> Option<Self> {
        let named = named_fields(cx, input, "State")?;
        let elem = input.generics.type_params().next().map(|p| &p.ident);
        let fields = named
            .named
            .iter()
            .filter_map(|f| {
                let attrs = attr::state_field(cx, &f.attrs);
                // A tensor with its own `shape` rule is not the parameter's shape: it is packed
                // but not part of the elementwise view.
                let tensor = if attrs.flatten.is_some() || attrs.shape.is_some() {
                    TensorKind::Other
                } else {
                    tensor_kind(&f.ty, elem)
                };
                Some(StateFieldDef {
                    ident: f.ident.as_ref()?,
                    ty: &f.ty,
                    attrs,
                    tensor,
                })
            })
            .collect();
        Some(StateStruct {
            ident: &input.ident,
            krate: attr::state_container(cx, &input.attrs),
            vis: &input.vis,
            elem,
            fields,
            generics: &input.generics,
        })
    }
}

/// `T` when `ty` is `Option<T>` (by its last path segment).
pub fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        GenericArgument::Type(inner) if args.args.len() == 1 => Some(inner),
        _ => None,
    }
}

/// Whether `ty` is a schedule's `PerGroup<T>` (by its last path segment): one value or a
/// list, whose builder method takes either.
pub fn is_per_group(ty: &Type) -> bool {
    let Type::Path(p) = ty else { return false };
    p.path.segments.last().is_some_and(|s| s.ident == "PerGroup")
}

/// Whether `ty` is a parameter-shaped tensor of the element type: `ArrayD<A>` or
/// `TensorD<A>` (by the last path segment), possibly inside `Option`.
fn tensor_kind(ty: &Type, elem: Option<&Ident>) -> TensorKind {
    let is_tensor = |ty: &Type| {
        let (Type::Path(p), Some(elem)) = (ty, elem) else {
            return false;
        };
        let Some(last) = p.path.segments.last() else {
            return false;
        };
        if last.ident != "ArrayD" && last.ident != "TensorD" {
            return false;
        }
        let PathArguments::AngleBracketed(args) = &last.arguments else {
            return false;
        };
        matches!(args.args.first(), Some(GenericArgument::Type(Type::Path(a))) if a.path.is_ident(elem))
    };
    if is_tensor(ty) {
        TensorKind::Tensor
    } else if option_inner(ty).is_some_and(is_tensor) {
        TensorKind::OptionalTensor
    } else {
        TensorKind::Other
    }
}
