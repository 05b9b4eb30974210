//! Where each (tree id, node id) of an ONNX-ML node list is, for the flattening. Converters
//! list each tree's nodes together with ids 0..n, so a tree's slice plus the node id finds
//! a node without hashing: a map per node cost most of a large forest's load (millions of
//! SipHash probes missing the cache). Trees numbered otherwise fall back to a map.

use std::collections::HashMap;

use super::error::ForestError;

pub(super) struct NodeIndex {
    /// Tree ids in order of first appearance.
    pub(super) tree_ids: Vec<i64>,
    /// The positions (in the node list) of tree `t`'s nodes:
    /// `members[offsets[t]..offsets[t + 1]]`, in list order.
    members: Vec<u32>,
    offsets: Vec<usize>,
    /// Per tree, whether its ids are 0..n: then `dense[offsets[t] + id]` is node `id`'s
    /// position; else `sparse` holds its nodes.
    is_dense: Vec<bool>,
    dense: Vec<u32>,
    sparse: HashMap<(usize, i64), u32>,
}

impl NodeIndex {
    /// The index of `n` nodes, node `i` being (tree id, node id) `ids(i)`.
    pub(super) fn new(
        n: usize,
        ids: impl Fn(usize) -> (i64, i64),
    ) -> Result<NodeIndex, ForestError> {
        if n >= u32::MAX as usize {
            invalid!("the ensemble has {n} nodes, too many");
        }
        // Trees in order of first appearance; each node's tree index. A tree's nodes
        // usually follow each other: the last tree is checked before the map.
        let mut tree_of_id: HashMap<i64, usize> = HashMap::new();
        let mut tree_ids = Vec::new();
        let mut tree_of = Vec::with_capacity(n);
        let mut last: Option<(i64, usize)> = None;
        let mut counts: Vec<usize> = Vec::new();
        for i in 0..n {
            let tree_id = ids(i).0;
            let t = match last {
                Some((id, t)) if id == tree_id => t,
                _ => *tree_of_id.entry(tree_id).or_insert_with(|| {
                    tree_ids.push(tree_id);
                    counts.push(0);
                    tree_ids.len() - 1
                }),
            };
            last = Some((tree_id, t));
            counts[t] += 1;
            tree_of.push(t as u32);
        }
        let mut offsets = Vec::with_capacity(counts.len() + 1);
        offsets.push(0);
        for c in &counts {
            offsets.push(offsets.last().unwrap() + c);
        }
        let mut fill = offsets[..counts.len()].to_vec();
        let mut members = vec![0u32; n];
        for (i, &t) in tree_of.iter().enumerate() {
            members[fill[t as usize]] = i as u32;
            fill[t as usize] += 1;
        }
        drop(tree_of);

        let mut dense = vec![u32::MAX; n];
        let mut is_dense = vec![true; counts.len()];
        let mut sparse = HashMap::new();
        for t in 0..counts.len() {
            let (start, end) = (offsets[t], offsets[t + 1]);
            let len = (end - start) as i64;
            let tree = &members[start..end];
            if tree.iter().all(|&i| (0..len).contains(&ids(i as usize).1)) {
                for &i in tree {
                    let slot = &mut dense[start + ids(i as usize).1 as usize];
                    if *slot != u32::MAX {
                        return Err(twice(ids(i as usize)));
                    }
                    *slot = i;
                }
            } else {
                is_dense[t] = false;
                for &i in tree {
                    if sparse.insert((t, ids(i as usize).1), i).is_some() {
                        return Err(twice(ids(i as usize)));
                    }
                }
            }
        }
        Ok(NodeIndex {
            tree_ids,
            members,
            offsets,
            is_dense,
            dense,
            sparse,
        })
    }

    /// Tree `t`'s nodes' positions, in list order.
    pub(super) fn members(&self, t: usize) -> &[u32] {
        &self.members[self.offsets[t]..self.offsets[t + 1]]
    }

    /// The position of node `id` of tree `t` (an index into `tree_ids`).
    pub(super) fn get(&self, t: usize, id: i64) -> Option<usize> {
        if self.is_dense[t] {
            let len = (self.offsets[t + 1] - self.offsets[t]) as i64;
            (0..len)
                .contains(&id)
                .then(|| self.dense[self.offsets[t] + id as usize] as usize)
        } else {
            self.sparse.get(&(t, id)).map(|&i| i as usize)
        }
    }

    /// The index of the tree with id `tree_id`, if it has nodes. `hint` is tried first:
    /// weights, like nodes, usually come tree by tree.
    pub(super) fn tree(&self, tree_id: i64, hint: usize) -> Option<usize> {
        if self.tree_ids.get(hint) == Some(&tree_id) {
            return Some(hint);
        }
        self.tree_ids.iter().position(|&id| id == tree_id)
    }
}

fn twice((tree_id, node_id): (i64, i64)) -> ForestError {
    ForestError(format!("node {node_id} of tree {tree_id} is defined twice"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(tree_id: i64, node_id: i64) -> (i64, i64) {
        (tree_id, node_id)
    }

    fn index(nodes: &[(i64, i64)]) -> Result<NodeIndex, ForestError> {
        NodeIndex::new(nodes.len(), |i| nodes[i])
    }

    #[test]
    fn finds_every_node_of_dense_sparse_and_interleaved_trees() {
        // Tree 7: ids 0..3 out of order; tree 2: ids 10, 20 (sparse); tree 7 resumes.
        let nodes = vec![node(7, 2), node(7, 0), node(2, 20), node(2, 10), node(7, 1)];
        let index = index(&nodes).unwrap();
        assert_eq!(index.tree_ids, vec![7, 2]);
        for (i, &(tree_id, node_id)) in nodes.iter().enumerate() {
            let t = index.tree(tree_id, 0).unwrap();
            assert_eq!(index.get(t, node_id), Some(i), "{:?}", (tree_id, node_id));
        }
        assert_eq!(index.members(0), &[0, 1, 4]);
        assert_eq!(index.members(1), &[2, 3]);
        assert_eq!(index.get(0, 3), None);
        assert_eq!(index.get(0, -1), None);
        assert_eq!(index.get(1, 0), None);
        assert_eq!(index.tree(99, 0), None);
        assert_eq!(index.tree(2, 1), Some(1));
    }

    #[test]
    fn a_node_defined_twice_is_refused_in_either_numbering() {
        for nodes in [
            vec![node(0, 0), node(0, 0)],
            vec![node(0, 5), node(0, 5), node(0, 9)],
        ] {
            let err = index(&nodes).err().expect("refused");
            assert!(err.0.contains("defined twice"), "{}", err.0);
        }
    }
}
