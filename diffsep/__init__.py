"""diffsep: what information a diffusion model stores, and when it uses it.

Public API: :func:`estimate_mi` (an MI estimate from paired samples), :class:`VPProcess`,
:func:`measure_information` (entropy and MI rates of a score model).
"""

__version__ = "0.1.0"

from .api import MIEstimate, estimate_mi  # noqa: E402
from .measure import InfoResult, measure_information  # noqa: E402
from .process import VPProcess  # noqa: E402

__all__ = ["estimate_mi", "MIEstimate", "measure_information", "InfoResult", "VPProcess", "__version__"]
