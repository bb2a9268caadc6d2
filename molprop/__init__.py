"""molprop: molecular property prediction with SE(3)-Transformers over conformer ensembles."""

__version__ = "0.1.0"


def train(cfg):
    """Train from a composed Hydra config; see :func:`molprop.training.train`."""
    from molprop.training import train as _train

    return _train(cfg)
