"""Conditional U-Net score network for images (entropy-matching output: the excess score)."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .common import CondEmbedding, FourierFeatures, check_arg, null_label_index

__all__ = ["UNet"]


def _norm(ch: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(groups, ch), ch)  # largest group count <= groups dividing ch


class _ResBlock(nn.Module):
    """GroupNorm, SiLU, conv; scale-shift by the embedding; GroupNorm, SiLU, dropout, conv; skip."""

    def __init__(self, cin: int, cout: int, emb: int, groups: int, dropout: float):
        super().__init__()
        self.norm1 = _norm(cin, groups)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.film = nn.Linear(emb, 2 * cout)
        self.norm2 = _norm(cout, groups)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.drop(F.silu(h)))
        return self.skip(x) + h


class _Attention(nn.Module):
    """Single-head self-attention over pixels, residual; starts as the identity."""

    def __init__(self, ch: int, groups: int):
        super().__init__()
        self.norm = _norm(ch, groups)
        self.qkv = nn.Conv2d(ch, 3 * ch, 1)
        self.proj = nn.Conv2d(ch, ch, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x):
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).flatten(2).transpose(1, 2).chunk(3, dim=2)  # (B, HW, C) each
        a = F.scaled_dot_product_attention(q, k, v)
        return x + self.proj(a.transpose(1, 2).reshape(b, c, h, w))


class UNet(nn.Module):
    """``net(x, t, cond=None, null=None) -> tensor shaped like x`` for images ``(B, C, H, W)``.

    ``len(mults)`` resolution levels with ``num_res_blocks`` residual blocks each (stride-2 conv
    down; nearest-neighbour upsampling + a conv to the level's width up; one skip connection per
    level), a middle block with optional single-head self-attention at the lowest resolution, and
    the time features plus the condition embedding injected into every residual block by
    scale-shift (with ``cond_gate``, the condition's part multiplied per sample by the caller's
    ``cond_scale``). Inputs of any size are replicate-padded to a multiple of ``2 ** (levels - 1)``
    and the output is cropped back. The output conv starts at zero, so an untrained model is
    the equilibrium.
    """

    def __init__(self, channels: int,                  # image channels C (1 or 3)
                 resolution: int,                       # image side H = W in pixels (any size works)
                 base: int = 32,                        # channels at full resolution
                 mults: tuple = (1, 2),                 # channel multiplier per level; len = levels
                 num_res_blocks: int = 1,               # residual blocks per level and direction
                 attention: bool = True,                # self-attention at the lowest resolution
                 emb_dim: int = 128,                    # time/condition embedding width
                 cond: str = "label",                   # 'label' | 'vector' | 'none'
                 num_classes: int | None = None,        # for cond='label'
                 cond_dim: int | None = None,           # for cond='vector'
                 dropout: float = 0.0,                  # dropout inside residual blocks
                 groups: int = 8,                       # GroupNorm groups (reduced to divide widths)
                 fourier_dim: int = 64,                 # time feature count
                 max_freq: float = 16.0,                # largest time-feature frequency
                 cond_input: bool = False,              # the condition as a learned map added to the first layer
                 cond_gate: bool = False,               # the condition scaled per sample by the caller's cond_scale
                 cond_input_side: int | None = None,    # cond_input's map learned at this side, upsampled; None: full size
                 cond_gate_sigma: float = 1.0):         # cond_gate scales by min(1, sigma / this); 1: by sigma
        super().__init__()
        for n, v, k in (("base", base, "pos_int"), ("num_res_blocks", num_res_blocks, "pos_int"),
                        ("attention", attention, "bool"), ("emb_dim", emb_dim, "pos_int"), ("groups", groups, "pos_int"),
                        ("fourier_dim", fourier_dim, "even_int"), ("dropout", dropout, "dropout"),
                        ("max_freq", max_freq, "pos_num"), ("cond_input", cond_input, "bool"),
                        ("cond_gate", cond_gate, "bool")):
            check_arg(n, v, k)
        if cond_input_side is not None:
            check_arg("cond_input_side", cond_input_side, "pos_int")
        check_arg("cond_gate_sigma", cond_gate_sigma, "pos_num")
        if cond_gate_sigma > 1:
            raise ValueError(f"cond_gate_sigma: must be a number in (0, 1] (a noise std of the VP process), "
                             f"got {cond_gate_sigma!r}")
        if not isinstance(mults, (list, tuple)) or not mults or len(mults) > 6:
            raise ValueError(f"mults: must be a non-empty list of at most 6 integers >= 1, got {mults!r}")
        for m in mults:
            check_arg("mults", m, "pos_int")
        mults = tuple(int(m) for m in mults)
        if channels < 1 or resolution < 1 or base < 1 or num_res_blocks < 1 or not mults or min(mults) < 1:
            raise ValueError(f"UNet needs channels, resolution, base, num_res_blocks >= 1 and non-empty "
                             f"positive mults; got {channels}, {resolution}, {base}, {num_res_blocks}, {mults}")
        self.channels, self.resolution, self.cond_kind = channels, resolution, cond
        # cond_gate: the condition's embedding (and its first-layer map) are multiplied by a per-sample
        # cond_scale the caller passes (diffsep.models.ScoreModel passes sigma(s)), so the conditional
        # and null outputs differ by O(sigma). Once the label is decided, the true difference
        # sigma * grad log p(y | x_s) is O(sigma) too, while an ungated network keeps a floor of
        # label-dependent output error at low noise that the MI estimators integrate as information.
        # Where a label is decided at low noise the true difference is larger than O(sigma) and the
        # gate slows learning it (docs/equations.md section 3: measured; shipped for the texture model only)
        if cond_gate and cond not in ("label", "vector"):
            raise ValueError(f"cond_gate: needs cond 'label' or 'vector', got {cond!r}")
        # cond_gate_sigma: the gate acts only below this noise std, min(1, sigma / cond_gate_sigma). The
        # true difference is O(sigma) once sigma is below the data's smallest signal scale (per Fourier
        # mode of the Gaussian texture law: sigma below sqrt of that mode's power); above it, and where
        # a label is still being decided by fine detail, it can grow as sigma falls (the texture
        # mixture at 32 px keeps 0.28 of its 1.03 nats above log-SNR 6, docs/equations.md section 3)
        self.cond_gate = bool(cond_gate)
        if cond_gate_sigma != 1.0 and not cond_gate:
            raise ValueError("cond_gate_sigma: needs cond_gate: true")
        self.cond_gate_sigma = float(cond_gate_sigma)
        self.levels = len(mults)
        self.multiple = 2 ** (self.levels - 1)  # inputs are padded to a multiple of this
        self.time = nn.Sequential(FourierFeatures(fourier_dim, max_freq), nn.Linear(fourier_dim, emb_dim),
                                  nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.cond = CondEmbedding(cond, emb_dim, num_classes=num_classes, cond_dim=cond_dim)
        widths = [base * m for m in mults]

        self.inp = nn.Conv2d(channels, widths[0], 3, padding=1)
        # cond_input: the condition as a learned map (widths[0] channels, padded H x W) added to the
        # first layer: one map per label and one for the null label, or for a vector condition a
        # linear map of it (zero for the null condition). Convolutions with channel-wide biases see
        # absolute position only through the border, so a condition-dependent *spatial* pattern (a
        # class mean; a latent that encodes an image's coarse layout) is slow to learn from the
        # scale-shift embedding alone; the maps start at zero. cond_input_side: the map is learned on
        # a coarser square grid and upsampled bilinearly to the first layer's size. A full-size map has
        # one free value per channel and pixel, each with a gradient that carries a 1/pixels share of
        # the (small) label signal; a coarse map pools the gradients of the pixels it covers
        # (docs/equations.md section 3: the texture mixture at 32 px)
        self.cond_in = None
        if cond_input_side is not None and not cond_input:
            raise ValueError("cond_input_side: needs cond_input: true")
        if cond_input:
            if cond not in ("label", "vector"):
                raise ValueError(f"cond_input: needs cond 'label' or 'vector', got {cond!r}")
            full = resolution + (-resolution) % self.multiple
            if cond_input_side is not None and int(cond_input_side) > full:
                raise ValueError(f"cond_input_side: must be at most the padded image size {full}, got {cond_input_side}")
            side = full if cond_input_side is None else int(cond_input_side)
            self._full = full
            if cond == "label":
                self.cond_in = nn.Embedding(int(num_classes) + 1, widths[0] * side * side)
            else:
                self.cond_in = nn.Linear(int(cond_dim), widths[0] * side * side, bias=False)
            nn.init.zeros_(self.cond_in.weight)
            self._side = side
        self.down, self.downsample = nn.ModuleList(), nn.ModuleList()
        ch = widths[0]
        for i, w in enumerate(widths):
            blocks = []
            for _ in range(num_res_blocks):
                blocks.append(_ResBlock(ch, w, emb_dim, groups, dropout))
                ch = w
            self.down.append(nn.ModuleList(blocks))
            if i < self.levels - 1:
                self.downsample.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
        self.mid1 = _ResBlock(ch, ch, emb_dim, groups, dropout)
        self.attn = _Attention(ch, groups) if attention else None
        self.mid2 = _ResBlock(ch, ch, emb_dim, groups, dropout)

        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for i in reversed(range(self.levels)):
            if i < self.levels - 1:  # upsampling conv narrows to this level's width
                self.upsample.append(nn.Conv2d(ch, widths[i], 3, padding=1))
                ch = widths[i]
            blocks, cin = [], ch + widths[i]  # the first block reads the skip as well
            for _ in range(num_res_blocks):
                blocks.append(_ResBlock(cin, widths[i], emb_dim, groups, dropout))
                cin = widths[i]
            ch = widths[i]
            self.up.append(nn.ModuleList(blocks))
        self.out_norm = _norm(ch, groups)
        self.out = nn.Conv2d(ch, channels, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None = None,
                null: torch.Tensor | None = None, cond_scale: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f"UNet expects images (B, {self.channels}, H, W), got {tuple(x.shape)}")
        if self.cond_gate and cond_scale is None:
            raise ValueError("UNet with cond_gate needs cond_scale (one number per sample)")
        gate = None
        if self.cond_gate:
            gate = cond_scale.to(x.dtype).reshape(-1, 1)
            if self.cond_gate_sigma != 1.0:
                gate = torch.clamp(gate / self.cond_gate_sigma, max=1.0)
        c = self.cond(x.shape[0], cond, null, device=x.device, dtype=x.dtype)
        emb = self.time(t).to(x.dtype) + (c if gate is None else gate * c)
        emb = F.silu(emb)
        height, width = x.shape[-2:]
        ph, pw = (-height) % self.multiple, (-width) % self.multiple
        h = F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x
        h = self.inp(h)
        if self.cond_in is not None:
            if h.shape[-1] != self._full or h.shape[-2] != self._full:
                raise ValueError(f"UNet with cond_input expects {self.resolution} px images, got {height} x {width}")
            m = self._cond_map(x.shape[0], cond, null, h)
            h = h + (m if gate is None else gate[:, :, None, None] * m)
        skips = []
        for i, blocks in enumerate(self.down):
            for blk in blocks:
                h = blk(h, emb)
            skips.append(h)
            if i < self.levels - 1:
                h = self.downsample[i](h)
        h = self.mid1(h, emb)
        if self.attn is not None:
            h = self.attn(h)
        h = self.mid2(h, emb)
        for j, blocks in enumerate(self.up):
            if j > 0:
                h = self.upsample[j - 1](F.interpolate(h, scale_factor=2.0, mode="nearest"))
            h = torch.cat([h, skips.pop()], dim=1)
            for blk in blocks:
                h = blk(h, emb)
        h = self.out(F.silu(self.out_norm(h)))
        return h[..., :height, :width] if ph or pw else h

    def _cond_map(self, batch: int, cond, null, h: torch.Tensor) -> torch.Tensor:
        """The condition's map added to the first layer (cond_input): the label's (or the null
        label's) map, or the linear map of a vector condition (zero where it is null)."""
        if isinstance(self.cond_in, nn.Embedding):
            idx = null_label_index(batch, cond, null, self.cond_in.num_embeddings - 1, h.device)
            m = self.cond_in(idx)
        elif cond is None:
            return torch.zeros_like(h)
        else:
            c = cond.to(h.dtype)
            if null is not None:
                c = torch.where(null.to(h.device)[:, None], torch.zeros_like(c), c)
            m = self.cond_in(c)
        m = m.to(h.dtype).view(-1, h.shape[1], self._side, self._side)
        if self._side != self._full:
            m = F.interpolate(m, size=(self._full, self._full), mode="bilinear", align_corners=False)
        return m
