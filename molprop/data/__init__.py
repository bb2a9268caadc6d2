"""Data pipeline: input files, features, PyG datasets, splits and the DataModule."""
