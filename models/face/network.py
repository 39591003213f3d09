"""The face expression network (PyTorch), shared by train.py and export.py.

A compact VGG-style CNN chosen for accuracy per millisecond on one CPU core. The input is
the 48x48 face softened to the training images' sharpness (overlay.face_input), which
holds no detail finer than ~6 px, so the network first averages it down to 24x24 (no
information lost, a quarter of the compute) and spends that compute on depth instead:
three stages of 3x3 conv + BatchNorm + ReLU layers (64 x2, 128 x3, 256 x3) with max
pooling, global average pooling, dropout and one linear layer. ~1.9 M parameters, about
2.3 ms per face at batch 1 on one core in onnxruntime.
"""

from __future__ import annotations

import torch
from torch import nn

STAGES = ((64, 2), (128, 3), (256, 3))  # (channels, conv layers)
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
        layers: list[nn.Module] = [nn.AvgPool2d(2)]
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
    """The exported form: probabilities instead of logits."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(x), dim=1)
