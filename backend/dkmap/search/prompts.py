"""A query or a new prompt through the bundled MiniLM model (loaded once per process), with the
model's length limit checked so a truncated prompt is reported, never silently shortened."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_PROMPT_CHARS = 4000   # longer text is refused outright: MiniLM reads 256 word pieces at most


class PromptError(ValueError):
    """A prompt that cannot be embedded (empty, not text, far too long)."""


@dataclass(frozen=True)
class EmbeddedPrompt:
    """A prompt's L2-normalised MiniLM embedding (384 float32) and whether the model cut it short."""

    vector: np.ndarray
    tokens: int
    limit: int

    @property
    def truncated(self) -> bool:
        return self.tokens > self.limit

    def warning(self) -> str | None:
        """The sentence telling the client its prompt was cut, or None."""
        if not self.truncated:
            return None
        return (f"the prompt has {self.tokens} word pieces; the model reads the first {self.limit}, "
                "the rest was ignored")


def check_prompt(prompt, name: str = "prompt") -> str:
    """`prompt` as stripped text (PromptError naming `name` if empty, not a string or over the cap)."""
    if not isinstance(prompt, str):
        raise PromptError(f"'{name}' must be a string, got {type(prompt).__name__}")
    text = prompt.strip()
    if not text:
        raise PromptError(f"'{name}' is empty")
    if len(text) > MAX_PROMPT_CHARS:
        raise PromptError(f"'{name}' has {len(text)} characters; at most {MAX_PROMPT_CHARS} are accepted")
    return text


def embed_prompt(prompt: str, model=None) -> EmbeddedPrompt:
    """MiniLM embedding of one prompt (the model of dkmap.data.encoders.load_minilm by default)."""
    if model is None:
        from dkmap.data.encoders import load_minilm

        model = load_minilm()
    text = check_prompt(prompt)
    tokens = len(model.tokenizer(text, add_special_tokens=True, truncation=False, verbose=False)["input_ids"])
    vector = model.encode([text], convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)[0]
    return EmbeddedPrompt(np.ascontiguousarray(vector, dtype=np.float32), tokens, int(model.max_seq_length))
