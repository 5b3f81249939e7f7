"""Shared pieces of the DAE tests: tiny settings and data (import as ``dae.common_dae``)."""

from diffsep.data import prepare

LAT = {"sem": {"dim": 3, "view": "lowpass", "view_size": 4, "base": 8, "hidden": 16},
       "per": {"dim": 3, "view": "full", "base": 8, "hidden": 16}}
DEC = {"base": 8, "mults": [1, 2], "attention": False, "emb_dim": 32, "fourier_dim": 16}


def synth(n_train=256, n_test=96, native=8, k=4, seed=0):
    spec = {"kind": "synthetic_separable", "params": {"n_train": n_train, "n_test": n_test, "num_classes": k,
                                                      "native": native}, "seed": seed, "resolutions": [8]}
    return prepare("synth", spec, 8)


SETTINGS = {"name": "dae", "s_star": 0.3, "gamma": 1e-3,
            "latents": {"semantic": {"dim": 3, "view": "lowpass", "view_size": 4, "base": 8, "hidden": 16},
                        "perceptual": {"dim": 3, "view": "full", "view_size": None, "base": 8, "hidden": 16,
                                       "gamma": 5e-3}},
            "decoder": DEC, "holdout_fraction": 0.1,
            "train": {"steps": 20, "batch_size": 32, "lr": 3e-3, "time_sampling": "s", "eval_every": 10,
                      "checkpoint_every": 10},
            "n_eval": 48, "n_times": 6, "eval_batch_size": 256, "probe": {"steps": 30},
            "mi": {"steps": 30, "width": 16, "depth": 1, "n_times": 6},
            "sampler_steps": 3, "n_recon": 24, "n_swap": 16, "grid": 3}
