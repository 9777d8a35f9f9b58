//! `state_dict`: an optimizer's options and state, packed as torch packs them.

use std::collections::BTreeMap;

use crate::dict::{DictGroup, StateDict};
use crate::float::Float;
use crate::optimizer::Optimizer;
use crate::rule::Rule;
use crate::state::State;

impl<R: Rule, A: Float> Optimizer<R, A> {
    /// The optimizer's options and state, packed as torch packs them (see [`StateDict`]):
    /// parameters numbered across groups in order, every group's options, each parameter's
    /// state entries, plus the optimizer's kind, its format version and the parameters'
    /// names when they have them.
    ///
    /// The dict borrows the optimizer's state tensors (saving it copies nothing):
    /// [`StateDict::into_owned`] makes a snapshot to keep across steps.
    pub fn state_dict(&self) -> StateDict<'_> {
        let mut state = BTreeMap::new();
        let mut param_groups = Vec::with_capacity(self.groups.len());
        let mut next = 0;
        for group in &self.groups {
            let params: Vec<usize> = (next..next + group.params.len()).collect();
            for (index, slot) in params.iter().zip(&group.states) {
                if let Some(s) = slot {
                    let entry = s.pack();
                    // torch leaves a parameter without state entries out entirely (SGD
                    // without momentum has no state at all).
                    if !entry.is_empty() {
                        state.insert(*index, entry);
                    }
                }
            }
            next += group.params.len();
            let param_names = group
                .params
                .iter()
                .map(|p| p.name().map(str::to_string))
                .collect::<Option<Vec<_>>>();
            param_groups.push(DictGroup {
                options: group.hyper.to_map(),
                params,
                param_names,
            });
        }
        let mut dict = StateDict {
            kind: Some(R::KIND.to_string()),
            version: Some(R::VERSION),
            state,
            param_groups,
        };
        for hook in self.hooks.state_dict_post.each() {
            hook(&mut dict);
        }
        dict
    }
}
