"""Residual MLP score network for vector data (entropy-matching output: the excess score)."""

from __future__ import annotations

import torch
from torch import nn

from .common import ACTIVATIONS, CondEmbedding, FourierFeatures, activation, check_arg, null_label_index

__all__ = ["MLP"]


class _Block(nn.Module):
    def __init__(self, width: int, emb: int, act: str, dropout: float):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.film = nn.Linear(emb, 2 * width)
        self.lin1 = nn.Linear(width, width)
        self.act = activation(act)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.lin2 = nn.Linear(width, width)

    def forward(self, h, emb):
        scale, shift = self.film(emb).chunk(2, dim=1)
        z = self.norm(h) * (1 + scale) + shift
        z = self.lin2(self.drop(self.act(self.lin1(self.act(z)))))
        return h + z


class MLP(nn.Module):
    """``net(x, t, cond=None, null=None) -> tensor shaped like x``.

    Residual blocks with LayerNorm and FiLM modulation by the time features plus the condition
    embedding. The output layer starts at zero, so an untrained model is the equilibrium.
    """

    def __init__(self, dim: int,                      # data dimension D
                 width: int = 512,                     # hidden width
                 depth: int = 3,                       # residual blocks
                 emb_dim: int = 128,                   # time/condition embedding width
                 cond: str = "none",                   # 'label' | 'vector' | 'none'
                 num_classes: int | None = None,       # for cond='label'
                 cond_dim: int | None = None,          # for cond='vector'
                 act: str = "silu",                    # activation name
                 dropout: float = 0.0,                 # dropout inside blocks
                 fourier_dim: int = 64,                # time feature count
                 max_freq: float = 16.0,               # largest time-feature frequency
                 cond_input: bool = False):            # the condition also enters the input layer
        super().__init__()
        for n, v, k in (("dim", dim, "pos_int"), ("width", width, "pos_int"), ("depth", depth, "pos_int"),
                        ("emb_dim", emb_dim, "pos_int"), ("fourier_dim", fourier_dim, "even_int"),
                        ("dropout", dropout, "dropout"), ("max_freq", max_freq, "pos_num"),
                        ("cond_input", cond_input, "bool")):
            check_arg(n, v, k)
        if act not in ACTIVATIONS:
            raise ValueError(f"act: unknown activation {act!r}; known: {sorted(ACTIVATIONS)}")
        self.dim, self.cond_kind = dim, cond
        self.time = nn.Sequential(FourierFeatures(fourier_dim, max_freq), nn.Linear(fourier_dim, emb_dim),
                                  nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.cond = CondEmbedding(cond, emb_dim, num_classes=num_classes, cond_dim=cond_dim)
        self.inp = nn.Linear(dim, width)
        # cond_input: the condition is also added to the first hidden layer (a label's row of a
        # table, a vector through a linear map; zero for the null condition and at initialisation),
        # so every block sees it beside x, not only through the FiLM modulation
        self.cond_in = None
        if cond_input and cond == "label":
            self.cond_in = nn.Embedding(int(num_classes) + 1, width)  # the last row: the null label
            nn.init.zeros_(self.cond_in.weight)
        elif cond_input and cond == "vector":
            self.cond_in = nn.Linear(int(cond_dim), width, bias=False)
            nn.init.zeros_(self.cond_in.weight)
        self.blocks = nn.ModuleList([_Block(width, emb_dim, act, dropout) for _ in range(depth)])
        self.out_norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None = None,
                null: torch.Tensor | None = None) -> torch.Tensor:
        emb = self.time(t).to(x.dtype) + self.cond(x.shape[0], cond, null, device=x.device, dtype=x.dtype)
        emb = nn.functional.silu(emb)
        h = self.inp(x)
        if self.cond_in is not None:
            h = h + self._cond_input(x.shape[0], cond, null, x)
        for blk in self.blocks:
            h = blk(h, emb)
        return self.out(nn.functional.silu(self.out_norm(h)))

    def _cond_input(self, batch, cond, null, x):
        """The condition's contribution to the first hidden layer (null: the null label's row, or zero)."""
        if isinstance(self.cond_in, nn.Embedding):
            idx = null_label_index(batch, cond, null, self.cond_in.num_embeddings - 1, x.device)
            return self.cond_in(idx).to(x.dtype)
        if cond is None:
            return torch.zeros(batch, self.cond_in.out_features, device=x.device, dtype=x.dtype)
        c = cond.to(x.dtype)
        if null is not None:
            c = torch.where(null[:, None], torch.zeros_like(c), c)
        return self.cond_in(c)
