//! Where node (tree, id) is among a tree ensemble's nodes, without a map of every node
//! when, as every converter writes them, each tree's nodes are listed by id from 0.

use std::cell::Cell;
use std::collections::HashMap;

use crate::forest::NodeSpec;

pub(crate) struct Positions<'a> {
    nodes: &'a [NodeSpec],
    /// Each tree's first node.
    starts: HashMap<i64, usize>,
    /// Every node, when some tree's nodes are not listed by id from 0.
    map: Option<HashMap<(i64, i64), usize>>,
    /// The last tree looked up: weights come tree by tree.
    last: Cell<Option<(i64, usize)>>,
}

impl<'a> Positions<'a> {
    pub fn new(nodes: &'a [NodeSpec]) -> Positions<'a> {
        let mut starts = HashMap::new();
        let mut dense = true;
        let mut last: Option<(i64, usize)> = None;
        for (i, n) in nodes.iter().enumerate() {
            let start = match last {
                Some((tree, start)) if tree == n.tree_id => start,
                _ => {
                    let start = *starts.entry(n.tree_id).or_insert(i);
                    last = Some((n.tree_id, start));
                    start
                }
            };
            dense &= usize::try_from(n.node_id).is_ok_and(|id| start + id == i);
        }
        let map = (!dense).then(|| {
            nodes
                .iter()
                .enumerate()
                .map(|(i, n)| ((n.tree_id, n.node_id), i))
                .collect()
        });
        Positions {
            nodes,
            starts,
            map,
            last: Cell::new(None),
        }
    }

    /// The position of node `id` of tree `tree`, if there is one (the last one listed, if
    /// the ids repeat).
    pub fn get(&self, tree: i64, id: i64) -> Option<usize> {
        if let Some(map) = &self.map {
            return map.get(&(tree, id)).copied();
        }
        let start = match self.last.get() {
            Some((t, start)) if t == tree => start,
            _ => {
                let start = *self.starts.get(&tree)?;
                self.last.set(Some((tree, start)));
                start
            }
        };
        let i = start.checked_add(usize::try_from(id).ok()?)?;
        self.nodes
            .get(i)
            .filter(|n| n.tree_id == tree && n.node_id == id)
            .map(|_| i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forest::Mode;

    fn node(tree_id: i64, node_id: i64) -> NodeSpec {
        NodeSpec {
            tree_id,
            node_id,
            mode: Some(Mode::Leq),
            feature: 0,
            threshold: 0.0,
            true_id: 0,
            false_id: 0,
            missing_tracks_true: false,
            members: vec![],
        }
    }

    #[test]
    fn listed_by_id_or_not_the_same_positions() {
        let dense = [node(0, 0), node(0, 1), node(0, 2), node(5, 0), node(5, 1)];
        let shuffled = [node(5, 1), node(0, 2), node(0, 0), node(5, 0), node(0, 1)];
        for nodes in [&dense[..], &shuffled[..]] {
            let p = Positions::new(nodes);
            assert_eq!(p.map.is_none(), std::ptr::eq(nodes, &dense[..]));
            for (i, n) in nodes.iter().enumerate() {
                assert_eq!(p.get(n.tree_id, n.node_id), Some(i));
            }
            for (tree, id) in [(0, 3), (5, 2), (1, 0), (0, -1), (5, i64::MAX)] {
                assert_eq!(p.get(tree, id), None, "({tree}, {id})");
            }
        }
    }
}
