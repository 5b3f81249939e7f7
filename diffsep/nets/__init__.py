"""Score networks, built from config by name through :data:`NETS`."""

from __future__ import annotations

from .mlp import MLP
from .unet import UNet

__all__ = ["NETS", "DATA_ARGS", "build_net", "check_net_kwargs", "register_net", "MLP", "UNet"]

NETS: dict[str, type] = {"mlp": MLP, "unet": UNet}


#: constructor arguments the data dictate (filled in by diffsep.models.net_kwargs), never set in config
DATA_ARGS = ("dim", "channels", "resolution", "cond", "num_classes", "cond_dim")
_PLACEHOLDERS = {"dim": 4, "channels": 1, "resolution": 8, "cond": "label", "num_classes": 2}


def check_net_kwargs(name: str, kwargs: dict, data: dict | None = None) -> None:
    """Check config-given constructor arguments of network ``name`` by building it on the ``meta``
    device (no memory, no compute) with ``data`` (or placeholders) for the data-dictated arguments,
    the same constructor a job calls; raises ``ValueError('<arg>: ...')`` naming the argument."""
    import inspect

    import torch

    if name not in NETS:
        raise ValueError(f"unknown network {name!r}; known: {sorted(NETS)}")
    if not isinstance(kwargs, dict):
        raise ValueError(f"must be a mapping of constructor arguments, got {kwargs!r}")
    sig = inspect.signature(NETS[name]).parameters
    known = sorted(set(sig) - set(DATA_ARGS))
    for k in kwargs:
        if k in DATA_ARGS:
            raise ValueError(f"{k}: set from the data, not from config")
        if k not in known:
            import difflib

            close = difflib.get_close_matches(str(k), known, n=1)
            raise ValueError(f"{k}: unknown argument of network {name!r}"
                             + (f" (did you mean {close[0]!r}?)" if close else f"; known: {', '.join(known)}"))
    args = {k: v for k, v in {**_PLACEHOLDERS, **(data or {})}.items() if k in sig}
    try:
        with torch.device("meta"):
            NETS[name](**args, **kwargs)
    except (TypeError, RuntimeError) as exc:  # e.g. a string for a width
        raise ValueError(" ".join(str(exc).split())) from None


def register_net(name: str, cls: type) -> None:
    NETS[name] = cls


def build_net(name: str, **kwargs):
    """Build a network by registry name; unknown names fail with the list of known ones."""
    try:
        cls = NETS[name]
    except KeyError:
        raise ValueError(f"unknown network {name!r}; known: {sorted(NETS)}") from None
    return cls(**kwargs)
