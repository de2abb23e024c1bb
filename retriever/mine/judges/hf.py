"""A local transformers causal-LM judge backend with the same prompts and parsers as the HTTP judge.

The chat messages go through the tokenizer's chat template when it has one, else they are joined as plain
text ending in ``Answer:``. The first attempt of a call decodes greedily (``temperature == 0``) or samples at
the configured temperature; retries sample at ``max(temperature, 0.7)`` with a seed fixed by the attempt, so
a retry can produce a different (parseable) answer. Generation runs in a worker thread, one at a time.
"""

from __future__ import annotations

import asyncio
import threading

from retriever.errors import InputError, first_line
from retriever.mine.config import JudgeConfig
from retriever.mine.judges.runner import Completion

RETRY_TEMPERATURE = 0.7
GENERATIVE_HEADS = ("ForCausalLM", "LMHeadModel", "ForConditionalGeneration")


class HFBackend:
    """A causal LM loaded from a local path (or cached hub name); ``async with`` is a no-op."""

    kind = "hf"

    def __init__(self, config: JudgeConfig) -> None:
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

        self.model = str(config.model)
        self._config = config
        try:
            architectures = AutoConfig.from_pretrained(self.model).architectures or []
            if architectures and not any(name.endswith(GENERATIVE_HEADS) for name in architectures):
                raise InputError(
                    f"judge model is not a generative (causal) language model ({', '.join(architectures)}); "
                    "give a chat or instruct LM such as Qwen2.5-Instruct or SmolLM2-Instruct",
                    path=self.model,
                )
            self._tokenizer = AutoTokenizer.from_pretrained(self.model)
            self._lm = AutoModelForCausalLM.from_pretrained(self.model)
        except InputError:
            raise
        except Exception as exc:  # OSError, ValueError, json errors ... on a missing or broken checkpoint
            raise InputError(f"cannot load judge model: {first_line(exc)}", path=self.model) from None
        self._lm.eval()
        self._lock = threading.Lock()

    async def __aenter__(self) -> HFBackend:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def _prompt_ids(self, messages: list[dict[str, str]]):
        if getattr(self._tokenizer, "chat_template", None):
            encoded = self._tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
            return encoded["input_ids"]
        text = "\n\n".join(message["content"] for message in messages) + "\n\nAnswer: "
        return self._tokenizer(text, return_tensors="pt")["input_ids"]

    def _pad_id(self) -> int | None:
        pad = self._tokenizer.pad_token_id
        return self._tokenizer.eos_token_id if pad is None else pad

    def _generate(self, messages: list[dict[str, str]], attempt: int) -> Completion:
        import torch

        ids = self._prompt_ids(messages)
        temperature = (
            self._config.temperature if attempt == 0 else max(self._config.temperature, RETRY_TEMPERATURE)
        )
        sampling = (
            {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
        )
        with self._lock, torch.no_grad():
            torch.manual_seed(attempt)
            output = self._lm.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=self._config.max_tokens,
                pad_token_id=self._pad_id(),
                **sampling,
            )
        new = output[0, ids.shape[1] :]
        text = self._tokenizer.decode(new, skip_special_tokens=True)
        return Completion(text, prompt_tokens=int(ids.shape[1]), completion_tokens=int(new.shape[0]))

    async def complete(self, messages: list[dict[str, str]], attempt: int) -> Completion:
        return await asyncio.to_thread(self._generate, messages, attempt)
