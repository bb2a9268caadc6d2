"""molprop: molecular property prediction with SE(3)-Transformers over conformer ensembles."""

__version__ = "0.1.0"


def _register_resolvers() -> None:
    """Register the OmegaConf resolvers used by ``conf/`` (idempotent)."""
    from omegaconf import OmegaConf

    from molprop.paths import project_root

    if not OmegaConf.has_resolver("molprop_root"):
        OmegaConf.register_new_resolver("molprop_root", lambda: str(project_root()))


_register_resolvers()
