"""Lightning pieces: the LightningModule and learning-rate schedulers."""
