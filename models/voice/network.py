"""The voice emotion network (PyTorch), shared by train.py and export.py.

Input: the log-mel window of overlay.voice.features ([N, 1, 64 mel bands, 201 frames of
10 ms] in dB relative to the window's peak). A compact CNN: the window is standardised
inside the graph, four stages of two 3x3 conv + BatchNorm + ReLU layers (24, 48, 96, 160
channels) with 2x2 max pooling between them, then the frequency axis is averaged away and
time is summarised by mean and max pooling (emotion shows in a few stressed syllables as
much as in the average), dropout and one linear layer. ~0.6 M parameters.
"""

from __future__ import annotations

import torch
from torch import nn

STAGES = (24, 48, 96, 160)
NUM_CLASSES = 7


class PerWindowStandardize(nn.Module):
    """Zero mean, unit variance per window, inside the graph so every path normalises alike."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(2, 3), keepdim=True)
        std = x.std(dim=(2, 3), keepdim=True, unbiased=False)
        return (x - mean) / (std + 1e-3)


def _conv_bn_relu(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


class VoiceEmotionNet(nn.Module):
    """[N, 1, 64, T] log-mel windows -> [N, 7] logits in the project's label order."""

    def __init__(self, dropout: float = 0.3) -> None:
        super().__init__()
        self.standardize = PerWindowStandardize()
        layers: list[nn.Module] = []
        channels = 1
        for i, width in enumerate(STAGES):
            layers += _conv_bn_relu(channels, width) + _conv_bn_relu(width, width)
            channels = width
            if i < len(STAGES) - 1:
                layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(2 * channels, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(self.standardize(x)).mean(dim=2)  # [N, C, T']
        pooled = torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)
        return self.classifier(self.dropout(pooled))


class WithSoftmax(nn.Module):
    """The exported form: probabilities instead of logits."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(x), dim=1)
