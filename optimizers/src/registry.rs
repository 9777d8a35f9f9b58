//! Building an optimizer from its name and string-keyed options, as a config file or a
//! torch state dict gives them.

use optim_core::{DynOptimizer, Error, Float, Map, Optimizer, Param, Result};

use crate::{Adadelta, Adafactor, Adagrad, Adam, AdamW, Adamax, Asgd, Lbfgs, Muon, NAdam, RAdam, Rmsprop, Rprop, Sgd};

/// The names [`build`] knows, as state dicts record them.
pub const KINDS: &[&str] = &[
    "sgd",
    "adam",
    "adamw",
    "lbfgs",
    "adadelta",
    "adafactor",
    "adagrad",
    "adamax",
    "asgd",
    "nadam",
    "radam",
    "rmsprop",
    "rprop",
    "muon",
];

/// Builds a bundled optimizer by its state-dict name (see [`KINDS`]) from torch-style options: `defaults` (the constructor's keyword arguments)
/// and one `(params, overrides)` pair per group.
///
/// ```
/// use optimizers::{Map, Param, ndarray::array, registry};
///
/// let p = Param::new(array![1.0f64, 2.0]);
/// let defaults: Map = [("lr", 0.1), ("momentum", 0.9)].into_iter().collect();
/// let opt = registry::build::<f64>("sgd", vec![(vec![p], Map::new())], &defaults)?;
/// assert_eq!(opt.kind(), "sgd");
/// # Ok::<(), optimizers::Error>(())
/// ```
pub fn build<A: Float>(
    kind: &str,
    groups: Vec<(Vec<Param<A>>, Map<'static>)>,
    defaults: &Map<'_>,
) -> Result<Box<dyn DynOptimizer<A>>> {
    Ok(match kind {
        "sgd" => Box::new(Optimizer::<Sgd, A>::from_maps(groups, defaults)?),
        "adam" => Box::new(Optimizer::<Adam, A>::from_maps(groups, defaults)?),
        "adamw" => Box::new(Optimizer::<AdamW, A>::from_maps(groups, defaults)?),
        "lbfgs" => Box::new(Optimizer::<Lbfgs, A>::from_maps(groups, defaults)?),
        "adadelta" => Box::new(Optimizer::<Adadelta, A>::from_maps(groups, defaults)?),
        "adagrad" => Box::new(Optimizer::<Adagrad, A>::from_maps(groups, defaults)?),
        "adamax" => Box::new(Optimizer::<Adamax, A>::from_maps(groups, defaults)?),
        "asgd" => Box::new(Optimizer::<Asgd, A>::from_maps(groups, defaults)?),
        "nadam" => Box::new(Optimizer::<NAdam, A>::from_maps(groups, defaults)?),
        "radam" => Box::new(Optimizer::<RAdam, A>::from_maps(groups, defaults)?),
        "rmsprop" => Box::new(Optimizer::<Rmsprop, A>::from_maps(groups, defaults)?),
        "rprop" => Box::new(Optimizer::<Rprop, A>::from_maps(groups, defaults)?),
        "adafactor" => Box::new(Optimizer::<Adafactor, A>::from_maps(groups, defaults)?),
        "muon" => Box::new(Optimizer::<Muon, A>::from_maps(groups, defaults)?),
        _ => {
            return Err(Error::UnknownOptimizer {
                kind: kind.to_string(),
                known: KINDS.join(", "),
            });
        }
    })
}

#[cfg(test)]
mod tests {
    use optim_core::ndarray::array;

    use super::*;

    #[test]
    fn every_listed_kind_builds_and_names_itself() -> Result<()> {
        let defaults: Map = [("lr", 0.1)].into_iter().collect();
        assert_eq!(KINDS.len(), 14);
        for &kind in KINDS {
            // A matrix: Muon takes only 2-D parameters.
            let p = Param::new(array![[1.0f32, 2.0], [3.0, 4.0]]);
            let opt = build::<f32>(kind, vec![(vec![p], Map::new())], &defaults)?;
            assert_eq!(opt.kind(), kind);
        }
        Ok(())
    }
}
