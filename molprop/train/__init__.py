"""Training: ``train(cfg)``, post-training evaluation, run outputs, plots and sweep summaries."""
