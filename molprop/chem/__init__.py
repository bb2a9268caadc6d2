"""Chemistry with RDKit and numpy only (no torch): parsing, conformers, cache, SDF."""
