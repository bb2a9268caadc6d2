"""Lightning training pieces: the module, metrics, schedulers and post-training evaluation."""
