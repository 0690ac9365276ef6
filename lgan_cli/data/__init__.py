"""Dataset adapters, identity splits, training pairs and the prepared-dataset cache."""
