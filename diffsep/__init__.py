"""diffsep: what information a diffusion model stores, and when it uses it.

Public API: :func:`estimate_mi` (an MI estimate from paired samples), :class:`VPProcess`,
:func:`measure_information` (entropy and MI rates of a score model). Imported lazily, so that
``import diffsep.launch`` (run by every workflow job) does not pay for torch.
"""

__version__ = "0.1.0"

__all__ = ["estimate_mi", "MIEstimate", "MINDEEstimator", "measure_information", "InfoResult", "VPProcess", "__version__"]

_LAZY = {"estimate_mi": "api", "MIEstimate": "api", "MINDEEstimator": "api", "measure_information": "measure", "InfoResult": "measure",
         "VPProcess": "process"}


def __getattr__(name):  # PEP 562
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'diffsep' has no attribute {name!r}")
