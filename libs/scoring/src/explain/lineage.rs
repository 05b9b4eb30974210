//! Which model input feature each column of a tensor in the graph derives from (filled by the lineage work).
