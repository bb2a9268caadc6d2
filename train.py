"""Train a molprop model: ``python train.py [group=option ...] [key=value ...]``.

Configs live in ``conf/`` (Hydra); see ``conf/train.yaml``. Multiruns: ``python train.py -m``.
"""

import hydra
from omegaconf import DictConfig

from molprop.train.run import train


@hydra.main(config_path="conf", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> float:
    """Train and return the optimised metric (used by sweepers)."""
    return train(cfg)


if __name__ == "__main__":
    main()
