"""The face expression network (PyTorch), shared by train.py and export.py.

A compact VGG-style CNN chosen for accuracy per millisecond on one CPU core. The input is a
sharp 48x48 grey face (overlay.face.preprocess), so the first stage works at full resolution,
narrow (one layer of 32 channels), and each later stage halves the grid and doubles the
width, which keeps each of them at about the same cost (~30 M multiply-adds): 3x3 conv +
BatchNorm + ReLU layers, 32 x1 at 48 px, then 64, 128 and 256 x2 at 24, 12 and 6 px, each
stage ending in max pooling; global average pooling, dropout and one linear layer.
~1.17 M parameters, ~96 M multiply-adds.
"""

from __future__ import annotations

import torch
from torch import nn

STAGES = ((32, 1), (64, 2), (128, 2), (256, 2))  # (channels, conv layers), 48 -> 24 -> 12 -> 6 -> 3
NUM_CLASSES = 7


class PerImageStandardize(nn.Module):
    """Zero mean, unit variance per image: removes global brightness and contrast.

    It lives inside the network (and so inside the ONNX graph) so that training and every
    inference path normalise identically.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(2, 3), keepdim=True)
        std = x.std(dim=(2, 3), keepdim=True, unbiased=False)
        return (x - mean) / (std + 0.02)


def _conv_bn_relu(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


class FaceExpressionNet(nn.Module):
    """[N, 1, 48, 48] grey faces in [0, 1] -> [N, 7] logits in the project's label order."""

    def __init__(self, dropout: float = 0.4) -> None:
        super().__init__()
        self.standardize = PerImageStandardize()
        layers: list[nn.Module] = []
        channels = 1
        for width, depth in STAGES:
            for _ in range(depth):
                layers += _conv_bn_relu(channels, width)
                channels = width
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(channels, NUM_CLASSES)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(self.standardize(x)))


class WithSoftmax(nn.Module):
    """The exported form: probabilities instead of logits; with `flip_average`, the mean of the
    probabilities for the face and its mirror image (one graph, one call from the app)."""

    def __init__(self, net: nn.Module, flip_average: bool = False) -> None:
        super().__init__()
        self.net = net
        self.flip_average = flip_average

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.flip_average:
            return torch.softmax(self.net(x), dim=1)
        both = torch.softmax(self.net(torch.cat([x, torch.flip(x, dims=[3])])), dim=1)
        return 0.5 * (both[: x.shape[0]] + both[x.shape[0] :])
