//! Path-dependent TreeSHAP over a tree ensemble with node covers (filled by the TreeSHAP work).
