"""Trimming the tokenizer's vocabulary to what the data uses, to ship a small model.

all-MiniLM-L6-v2's 30,522-token WordPiece vocabulary takes half the int8 model (11.7 MB of
embeddings). Kept: the special tokens, every single character and "##" + character (so
any word can still be spelled out), and the most frequent tokens of the training texts up
to `size`. WordPiece then splits a word whose token was dropped into pieces that remain.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

from tokenizers import Tokenizer


def kept_ids(tokenizer_json: dict[str, Any], texts: Iterable[str], size: int) -> list[int]:
    vocab: dict[str, int] = tokenizer_json["model"]["vocab"]
    tokenizer = Tokenizer.from_str(json.dumps(tokenizer_json))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    counts: Counter[int] = Counter()
    for encoding in tokenizer.encode_batch(list(texts)):
        counts.update(encoding.ids)
    special = {t["id"] for t in tokenizer_json.get("added_tokens", [])}
    spelling = {i for token, i in vocab.items() if len(token) == 1 or (token.startswith("##") and len(token) == 3)}
    keep = special | spelling
    for token_id, _ in counts.most_common():
        if len(keep) >= size:
            break
        keep.add(token_id)
    return sorted(keep)


def trimmed_tokenizer(tokenizer_json: dict[str, Any], keep: list[int]) -> dict[str, Any]:
    """The tokenizer with only `keep` (old ids, ascending), renumbered 0..len-1 in that order."""
    new_id = {old: new for new, old in enumerate(keep)}
    trimmed = copy.deepcopy(tokenizer_json)
    trimmed["model"]["vocab"] = {t: new_id[i] for t, i in tokenizer_json["model"]["vocab"].items() if i in new_id}
    for token in trimmed.get("added_tokens", []):
        token["id"] = new_id[token["id"]]
    for spec in (trimmed.get("post_processor") or {}).get("special_tokens", {}).values():
        spec["ids"] = [new_id[i] for i in spec["ids"]]
    if trimmed.get("padding"):
        trimmed["padding"]["pad_id"] = new_id[trimmed["padding"]["pad_id"]]
    return trimmed
