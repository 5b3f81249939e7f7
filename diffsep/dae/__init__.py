"""Diffusion autoencoders (DAE) and the separability measurements of claim 2 (docs/equations.md).

A DAE encodes an image ``x`` into latents and decodes with a conditional diffusion model (the
U-Net of :mod:`diffsep.nets.unet` with ``cond='vector'``, whose learned null embedding gives the
unconditional branch). Two flavours, one class:

* **plain**: one latent ``z`` from an encoder with a full view, read by the decoder at every ``s``;
* **ladder** (hierarchical): a *semantic* latent from an encoder that sees a coarse low-pass view
  and a *perceptual* latent from an encoder that sees the full image; the decoder reads
  ``z_sem`` for ``s >= s*`` (high noise, early in generation) and ``z_per`` for ``s < s*``.

Routing (:class:`LadderScoreModel`): the decoder's condition is the concatenation of all latents;
at time ``s`` every latent but the active one is zeroed (the network also sees ``s``, so a zeroed
block is never ambiguous). Training minimises :class:`diffsep.losses.AutoencoderLoss` (the
decoder's denoising loss given reparameterised latent samples, plus ``gamma`` times the KL to
``N(0, I)``), with condition dropout so that ``excess_pair`` gives the null branch.

Measurements (:func:`measure_dae`): ``I(Z; Y)`` of each latent
(:func:`diffsep.estimate_mi`, its cross-fitted MMSE gap, on encoded latents with the labels) and a probe bound
``H(Y) - CE`` with probe accuracy; the decoder's neural entropy and the MI rate between image
and latents (:func:`diffsep.measure.measure_information` against the null latent), split at
``s*`` into the part read from ``z_sem`` (``int_{s*}^1 i ds = I(X_{s*}; Z_sem)`` for exact
scores) and from ``z_per``; reconstructions and latent swaps (``z_sem`` of image A with
``z_per`` of image B), judged by an image classifier.

The package: :mod:`.models` (the autoencoder, its training through :func:`diffsep.train.train`,
files, encoding and decoding), :mod:`.measure` (probes and every measurement of a trained DAE),
:mod:`.codec` (images as text for the tables; numpy only). The DAG job is
:mod:`diffsep.stages.dae`. Importing this package imports no torch; its public names are
loaded from the submodules on first use.
"""

from __future__ import annotations

import importlib

#: keys of ``experiments.dae`` that training depends on (what the model file is a function of)
TRAIN_KEYS = ("name", "latents", "decoder", "gamma", "holdout_fraction", "train")
#: keys of ``experiments.dae`` that :func:`~diffsep.dae.measure.measure_dae` and its job read
MEASURE_KEYS = ("name", "s_star", "n_eval", "n_times", "eval_batch_size", "probe", "mi", "sampler_steps", "n_recon",
                "n_swap", "grid")
#: keys that only plan the jobs (which datasets, arms and seeds): neither part reads them
PLAN_KEYS = ("datasets", "resolutions", "seeds", "sweep", "sweep_datasets", "plain", "train_by_dataset",
             "latents_by_dataset", "decoder_by_dataset")
ROLES = {"sem": "semantic", "per": "perceptual", "z": "single"}


def for_dataset(d: dict, dataset: str) -> dict:
    """``experiments.dae`` (``d``) with one dataset's overrides applied: ``train`` over
    ``train_by_dataset[dataset]``, ``decoder`` over ``decoder_by_dataset[dataset]`` and each latent over
    ``latents_by_dataset[dataset]`` (the one home of that merge: the workflow's DAE rules and
    ``benchmarks/dae_recipe.py`` use it)."""
    out = dict(d)
    out["train"] = {**d["train"], **(d.get("train_by_dataset") or {}).get(dataset, {})}
    out["decoder"] = {**d["decoder"], **(d.get("decoder_by_dataset") or {}).get(dataset, {})}
    over = (d.get("latents_by_dataset") or {}).get(dataset, {})
    out["latents"] = {role: {**lat, **over.get(role, {})} for role, lat in d["latents"].items()}
    return out

_SUBMODULES = ("models", "measure", "codec")


def __getattr__(name):
    for sub in _SUBMODULES:
        mod = importlib.import_module(f".{sub}", __name__)
        if name in getattr(mod, "__all__", ()):
            return getattr(mod, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
