"""Score networks, built from config by name through :data:`NETS`."""

from __future__ import annotations

from .mlp import MLP
from .unet import UNet

__all__ = ["NETS", "build_net", "register_net", "MLP", "UNet"]

NETS: dict[str, type] = {"mlp": MLP, "unet": UNet}


def register_net(name: str, cls: type) -> None:
    NETS[name] = cls


def build_net(name: str, **kwargs):
    """Build a network by registry name; unknown names fail with the list of known ones."""
    try:
        cls = NETS[name]
    except KeyError:
        raise ValueError(f"unknown network {name!r}; known: {sorted(NETS)}") from None
    return cls(**kwargs)
