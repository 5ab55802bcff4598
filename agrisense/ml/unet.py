"""The land-cover segmentation network: a small U-Net (segmentation-models-pytorch) over stacked months.

The months are channels, so the encoder's first layers see each pixel's whole temporal-spectral signature.
A 1x1 convolution ("temporal stem") first compresses the ~126 stacked channels per pixel into
``stem_channels`` learned features; this keeps the 7x7 stride-2 encoder stem cheap enough to train on
a laptop CPU. Encoder weights are always random (``encoder_weights=None``): nothing is downloaded, and
ImageNet RGB weights would not fit 100+ reflectance channels anyway.
"""

from __future__ import annotations

from collections.abc import Sequence

import segmentation_models_pytorch as smp
import torch
from torch import nn

from agrisense.errors import InvalidInput


class BoundaryHead(nn.Module):
    """Field-boundary logit ``(B, 1, H, W)`` from the U-Net's last decoder features, its class logits and the
    per-pixel temporal embedding of the stem (full resolution, not blurred by the encoder's strides).

    Two 3x3 convolutions see a pixel's 5x5 neighbourhood: enough to find the mixed pixels and the change of
    crop or sowing date where two fields meet, which the land-cover classes alone cannot separate.
    """

    def __init__(self, in_channels: int, hidden: int = 32) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(in_channels, hidden, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, hidden, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, 1, kernel_size=1),
        )

    def forward(self, decoded: torch.Tensor, logits: torch.Tensor, embedded: torch.Tensor) -> torch.Tensor:
        return self.layers(torch.cat([decoded, logits, embedded], dim=1))


class LandcoverUNet(nn.Module):
    """Per-pixel 1x1 stem (optional) followed by an ``smp.Unet``; returns logits ``(B, K, H, W)``.

    With a ``boundary_head``, ``forward(x, boundary=True)`` returns ``(B, K + 1, H, W)``: the K class logits
    (unchanged) and a field-boundary logit as the last channel.
    """

    def __init__(
        self,
        stem: nn.Module,
        unet: smp.Unet,
        input_multiple: int,
        stem_out: int,
        boundary_head: BoundaryHead | None = None,
    ) -> None:
        super().__init__()
        self.stem = stem
        self.stem_out = stem_out  # channels the stem hands to the encoder
        self.unet = unet
        self.input_multiple = input_multiple  # input H and W must be multiples of this
        self.boundary_head = boundary_head

    def forward(self, x: torch.Tensor, boundary: bool = False) -> torch.Tensor:
        if not boundary:
            return self.unet(self.stem(x))
        if self.boundary_head is None:
            raise InvalidInput("this model has no field-boundary head; train one with `agrisense train boundary`")
        embedded = self.stem(x)
        decoded = self.unet.decoder(self.unet.encoder(embedded))
        logits = self.unet.segmentation_head(decoded)
        return torch.cat([logits, self.boundary_head(decoded, logits, embedded)], dim=1)

    def add_boundary_head(self) -> BoundaryHead:
        """Attach a new, randomly initialised boundary head (replacing any) and return it."""
        decoder_out = self.unet.segmentation_head[0].in_channels
        n_classes = self.unet.segmentation_head[0].out_channels
        self.boundary_head = BoundaryHead(decoder_out + n_classes + self.stem_out)
        return self.boundary_head


def build_model(
    in_channels: int,
    n_classes: int,
    encoder: str = "resnet18",
    encoder_depth: int = 4,
    decoder_channels: Sequence[int] = (128, 64, 32, 16),
    stem_channels: int | None = 32,
    stem_dropout: float = 0.0,
    boundary_head: bool = False,
) -> LandcoverUNet:
    """A randomly initialised U-Net for ``in_channels`` stacked features and ``n_classes`` classes.

    ``stem_channels=None`` feeds the stacked channels straight into the encoder. ``stem_dropout`` drops whole
    stem channels while training (a regulariser; no weights, so bundles do not record it). ``boundary_head``
    adds the (untrained) field-boundary head.
    """
    if in_channels < 1 or n_classes < 2:
        raise InvalidInput(f"need in_channels >= 1 and n_classes >= 2, got {in_channels} and {n_classes}")
    if len(decoder_channels) != encoder_depth:
        raise InvalidInput(
            f"decoder_channels {tuple(decoder_channels)} must have one entry per encoder stage ({encoder_depth})"
        )
    if stem_channels is None:
        stem: nn.Module = nn.Identity()
        unet_in = in_channels
    else:
        stem = nn.Sequential(
            nn.Conv2d(in_channels, stem_channels, kernel_size=1, bias=False),
            nn.BatchNorm2d(stem_channels),
            nn.ReLU(inplace=True),
            nn.Dropout2d(stem_dropout) if stem_dropout > 0 else nn.Identity(),
        )
        unet_in = stem_channels
    unet = smp.Unet(
        encoder_name=encoder,
        encoder_weights=None,
        encoder_depth=encoder_depth,
        decoder_channels=tuple(decoder_channels),
        in_channels=unet_in,
        classes=n_classes,
    )
    _drop_unused_stages(unet, encoder_depth)
    model = LandcoverUNet(stem, unet, input_multiple=2**encoder_depth, stem_out=unet_in)
    if boundary_head:
        model.add_boundary_head()
    return model


def count_parameters(module: nn.Module) -> int:
    """Number of parameters (trainable or not) of ``module``."""
    return sum(p.numel() for p in module.parameters())


def _drop_unused_stages(unet: smp.Unet, encoder_depth: int) -> None:
    """smp keeps ResNet stages beyond ``encoder_depth`` that forward never runs; drop their weights."""
    for stage in range(max(encoder_depth, 1), 5):  # ResNet stage layerN runs at depth N + 1
        name = f"layer{stage}"
        if isinstance(getattr(unet.encoder, name, None), nn.Module):
            setattr(unet.encoder, name, nn.Identity())
