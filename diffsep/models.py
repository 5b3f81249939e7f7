"""Score models: a network plus the VP process, in the entropy-matching parametrisation.

``score(x, s | c) = -x + e(x, s, c)``. The network sees ``c_noise = -lambda(s)/8`` (a scaled
log-SNR) and its output ``F`` is read as ``e = F / sigma(s)``, so that ``F`` is O(1) at every
noise level (the denoising loss becomes ``||F - sigma x_s + eps||^2``). Every consumer of
scores (losses, estimators, samplers) goes through :meth:`ScoreModel.excess` /
:meth:`ScoreModel.excess_pair`; the exact Gaussian models in :mod:`diffsep.gaussian` offer the
same two methods.
"""

from __future__ import annotations

import torch
from torch import nn

from .io import load_artifact, save_artifact
from .nets import build_net
from .process import VPProcess

__all__ = ["ScoreModel", "TwoNetScoreModel", "EnsembleScoreModel", "guided_excess", "build_score_model", "save_model", "load_model",
           "net_kwargs"]

MODEL_FORMAT = "diffsep-model-1"


def _bshape(s, x):
    return s.view((-1,) + (1,) * (x.dim() - 1))


class ScoreModel(nn.Module):
    """One network giving both ``e(x, s, c)`` and ``e(x, s, null)`` (label dropout)."""

    def __init__(self, net: nn.Module, process: VPProcess, spec: dict | None = None):
        super().__init__()
        self.net, self.process = net, process
        self.spec = spec  # {"net": registry name, "kwargs": {...}}: enough to rebuild the net

    def c_noise(self, s: torch.Tensor) -> torch.Tensor:
        return -self.process.log_snr(s.double()).to(s.dtype) / 8.0

    def excess(self, x, s, cond=None, null=None):
        """Excess score ``e``; ``cond=None`` (or ``null`` True) selects the null token. A network
        with ``cond_gate`` gets ``cond_scale = sigma(s)``: its condition acts in proportion to the
        noise, as the true ``sigma grad log p(y | x_s)`` does once the label is decided."""
        sig = self.process.sigma(s)
        if getattr(self.net, "cond_gate", False):
            f = self.net(x, self.c_noise(s), cond, null, cond_scale=sig.to(x.dtype))
        else:
            f = self.net(x, self.c_noise(s), cond, null)
        return f / _bshape(sig, x)

    def excess_pair(self, x, s, cond):
        """``(e(x, s, cond), e(x, s, null))`` from one batched forward pass."""
        b = x.shape[0]
        null = torch.cat([torch.zeros(b, dtype=torch.bool, device=x.device),
                          torch.ones(b, dtype=torch.bool, device=x.device)])
        e = self.excess(torch.cat([x, x]), torch.cat([s, s]), torch.cat([cond, cond]), null)
        return e[:b], e[b:]

    def score(self, x, s, cond=None, null=None):
        return self.process.score_from_excess(x, self.excess(x, s, cond, null))


class TwoNetScoreModel(nn.Module):
    """The paper's two-network setup: a conditional network and a separate marginal one."""

    def __init__(self, cond_model: ScoreModel, marg_model: ScoreModel):
        super().__init__()
        self.cond_model, self.marg_model = cond_model, marg_model
        self.process = cond_model.process
        self.spec = {"two_net": True, "cond": cond_model.spec, "marg": marg_model.spec}

    def excess(self, x, s, cond=None, null=None):
        if cond is None:
            return self.marg_model.excess(x, s)
        e = self.cond_model.excess(x, s, cond)
        if null is not None and bool(null.any()):
            e = torch.where(_bshape(null, x), self.marg_model.excess(x, s), e)
        return e

    def excess_pair(self, x, s, cond):
        return self.cond_model.excess(x, s, cond), self.marg_model.excess(x, s)

    def score(self, x, s, cond=None, null=None):
        return self.process.score_from_excess(x, self.excess(x, s, cond, null))


class EnsembleScoreModel(nn.Module):
    """Several independently trained score models; their mean is the ensemble's score.

    Besides averaging, the members let the estimators cross-fit: the MINDE integrand
    ``||e(x,s,y) - e(x,s,null)||^2`` of one network is biased upwards by the squared error of
    that network, while the product ``<D_i, D_j>`` of two independently trained networks'
    differences is not biased by the part of their errors that is specific to each network
    (:func:`diffsep.measure.measure_information` reports it as ``mi_minde_cross``).
    """

    def __init__(self, members):
        super().__init__()
        members = list(members)
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least 2 members, got {len(members)}")
        self.members = nn.ModuleList(members)
        self.process = members[0].process
        self.spec = {"ensemble": [m.spec for m in members]}

    def excess(self, x, s, cond=None, null=None):
        return torch.stack([m.excess(x, s, cond, null) for m in self.members]).mean(0)

    def member_pairs(self, x, s, cond):
        """``[(e_c, e_n) per member]``, each from the member's own batched pass."""
        return [m.excess_pair(x, s, cond) for m in self.members]

    @staticmethod
    def mean_pair(pairs):
        """The ensemble's ``(e_c, e_n)`` from :meth:`member_pairs`."""
        return torch.stack([c for c, _ in pairs]).mean(0), torch.stack([n for _, n in pairs]).mean(0)

    def excess_pair(self, x, s, cond):
        return self.mean_pair(self.member_pairs(x, s, cond))

    def score(self, x, s, cond=None, null=None):
        return self.process.score_from_excess(x, self.excess(x, s, cond, null))


def guided_excess(model, x, s, cond, w):
    """Classifier-free guidance: ``(1 + w) e(x, s, y) - w e(x, s, null)``, one batched pass.

    ``w`` is a float or a per-sample tensor (a schedule evaluated at ``s``).
    """
    e_c, e_n = model.excess_pair(x, s, cond)
    if isinstance(w, torch.Tensor):
        w = _bshape(w.to(x.dtype), x)
    return e_c + w * (e_c - e_n)


def build_score_model(spec: dict, process: VPProcess):
    """Build a (randomly initialised) score model from its spec."""
    if "ensemble" in spec:
        return EnsembleScoreModel([build_score_model(m, process) for m in spec["ensemble"]])
    if spec.get("two_net"):
        return TwoNetScoreModel(build_score_model(spec["cond"], process), build_score_model(spec["marg"], process))
    return ScoreModel(build_net(spec["net"], **spec.get("kwargs", {})), process, spec=dict(spec))


def save_model(path, model, meta: dict | None = None) -> None:
    """Write final weights, the spec and the process atomically (loadable with weights_only)."""
    if model.spec is None:
        raise ValueError("cannot save a score model built without a spec")
    save_artifact(path, MODEL_FORMAT, model, meta, spec=model.spec, process=model.process.to_dict())


def load_model(path, device="cpu"):
    """Load a model written by :func:`save_model`; returns ``(model, meta)``."""
    f, state = load_artifact(path, MODEL_FORMAT, "model")
    model = build_score_model(f["spec"], VPProcess(**f["process"]))
    model.load_state_dict(state)
    return model.to(device).eval(), f["meta"]


def check_model_cfg(model_cfg: dict, key: str) -> None:
    """The train job's own checks of a model's config (``diffsep validate`` runs them too): the
    network is built on the ``meta`` device from its ``net_params`` (the same constructor, no
    memory), the training settings parsed. Errors name the config key under ``key``."""
    from .checks import keyed
    from .nets import check_net_kwargs
    from .train import TrainConfig

    try:
        check_net_kwargs(model_cfg.get("net", "mlp"), model_cfg.get("net_params") or {})
    except ValueError as exc:
        raise ValueError(keyed(f"{key}.net_params", exc)) from None
    hf = model_cfg.get("holdout_fraction", 0.1)
    if isinstance(hf, bool) or not isinstance(hf, (int, float)) or not 0 <= hf < 1:
        raise ValueError(f"config key '{key}.holdout_fraction': must lie in [0, 1), got {hf!r}")
    try:
        TrainConfig.from_dict(dict(model_cfg.get("train") or {}))
    except (TypeError, ValueError) as exc:
        raise ValueError(keyed(f"{key}.train", exc)) from None
    if model_cfg.get("null_phase") and model_cfg.get("two_net"):
        raise ValueError(f"config key '{key}.null_phase': needs one network with condition dropout, but the model "
                         f"has two_net: true (its null branch is a network of its own)")


def net_kwargs(model_cfg: dict, data, cond: str | None = "auto") -> dict:
    """Network constructor arguments: the config's ``net_params`` plus what the prepared ``data``
    dictate (input size; conditioning, ``cond='auto'``: the data's own)."""
    kw = dict(model_cfg.get("net_params") or {})
    x = data.x_train
    if model_cfg.get("net", "mlp") == "mlp":
        kw["dim"] = int(x.shape[1])
    else:
        kw["channels"], kw["resolution"] = int(x.shape[1]), int(x.shape[2])
    c = data.cond if cond == "auto" else cond
    kw["cond"] = c if c in ("label", "vector") else "none"
    if c == "label":
        kw["num_classes"] = int(data.num_classes)
    elif c == "vector":
        kw["cond_dim"] = int(data.y_train.shape[1])
    return kw
