//! How the tree ensembles' (or linear models') outputs make up the model's answer (filled by the lineage work).
