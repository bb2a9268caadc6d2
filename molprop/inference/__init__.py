"""Inference without Lightning or Hydra: the loaded run, streaming predict, input readers."""
