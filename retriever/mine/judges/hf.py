"""A local transformers causal-LM judge backend with the same prompts and parsers as the HTTP judge.

``model`` is a local folder, a hub name, or a GGUF file: a path ending in ``.gguf`` (a local file, or
``owner/repo/file.gguf`` on the hub), loaded with transformers' ``from_pretrained(folder, gguf_file=name)``,
which dequantizes the weights to float32 torch tensors (needs the ``gguf`` package, in the ``llm`` extra).
So the GGUF a llama.cpp server serves can be judged with locally, with the same prompts, through torch's
kernels instead of llama.cpp's quantized ones.

The chat messages go through the tokenizer's chat template when it has one, else they are joined as plain
text ending in ``Answer:``. With ``structured`` (the default) and a one-passage prompt (pointwise, graded)
the answer is constrained to the prompt's JSON schema, as a server's ``response_format`` does: the model
chooses among the four answers ``{"grade": G}`` token by token, the tokens all four share forced and the
choice made where they differ (in practice one forward pass that picks the grade token). That needs a
tokenizer that spells the four answers exactly (a byte-level BPE does; a lower-casing WordPiece does not);
otherwise, and for the listwise prompt, the answer is generated freely and parsed strictly. Free generation
and the constrained choice decode greedily on the first attempt of a call (``temperature == 0``) or sample
at the configured temperature; retries sample at ``max(temperature, 0.7)`` with a seed fixed by the
attempt, so a retry can produce a different (parseable) answer. Generation runs in a worker thread, one at
a time.
"""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

from retriever.errors import InputError, first_line
from retriever.mine.config import JudgeConfig
from retriever.mine.judges.prompts import PROMPTS
from retriever.mine.judges.runner import Completion

RETRY_TEMPERATURE = 0.7
GENERATIVE_HEADS = ("ForCausalLM", "LMHeadModel", "ForConditionalGeneration")


def model_source(model: str) -> tuple[str, dict[str, str]]:
    """The folder (or hub repo) and extra ``from_pretrained`` arguments for a judge ``model``: a name ending in
    ``.gguf`` is a GGUF file (a local one split into its folder and file name, else ``owner/repo/path.gguf``
    on the hub); anything else is a transformers checkpoint."""
    if not model.endswith(".gguf"):
        return model, {}
    path = Path(model)
    if path.is_file():
        return str(path.parent), {"gguf_file": path.name}
    parts = model.split("/")
    if len(parts) < 3 or path.is_absolute() or model.startswith("."):
        raise InputError("no GGUF file here (give a local .gguf file or owner/repo/file.gguf)", path=model)
    return "/".join(parts[:2]), {"gguf_file": "/".join(parts[2:])}


class HFBackend:
    """A causal LM loaded from a local path (or cached hub name); ``async with`` is a no-op."""

    kind = "hf"

    def __init__(self, config: JudgeConfig) -> None:
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

        self.model = str(config.model)
        self._config = config
        source, extra = model_source(self.model)
        try:
            architectures = AutoConfig.from_pretrained(source, **extra).architectures or []
            if architectures and not any(name.endswith(GENERATIVE_HEADS) for name in architectures):
                raise InputError(
                    f"judge model is not a generative (causal) language model ({', '.join(architectures)}); "
                    "give a chat or instruct LM such as Qwen2.5-Instruct or SmolLM2-Instruct",
                    path=self.model,
                )
            self._tokenizer = AutoTokenizer.from_pretrained(source, **extra)
            self._lm = AutoModelForCausalLM.from_pretrained(source, **extra)
        except InputError:
            raise
        except ImportError as exc:  # transformers reads GGUF files only with the gguf package
            raise InputError(
                f"cannot load judge model: {first_line(exc)} (pip install 'retriever[llm]')", path=self.model
            ) from None
        except Exception as exc:  # OSError, ValueError, json errors ... on a missing or broken checkpoint
            raise InputError(f"cannot load judge model: {first_line(exc)}", path=self.model) from None
        self._lm.eval()
        self._lock = threading.Lock()
        self._answers = self._grade_answers() if self._constrained() else None

    def _constrained(self) -> bool:
        return self._config.structured and not PROMPTS[self._config.prompt].listwise

    def _grade_answers(self) -> list[tuple[str, list[int]]] | None:
        """The schema's answers with their token ids, or None when the tokenizer cannot spell each one
        exactly (decoding its ids gives another string) or gives two of them the same ids."""
        answers = []
        for grade in range(4):
            text = json.dumps({"grade": grade})
            ids = self._tokenizer(text, add_special_tokens=False)["input_ids"]
            if self._tokenizer.decode(ids) != text:
                return None
            answers.append((text, ids))
        return answers if len({tuple(ids) for _, ids in answers}) == len(answers) else None

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

    def _choose(self, ids, temperature: float) -> tuple[str, int]:
        """One of :attr:`_answers` after the prompt ``ids``, and its token count: shared tokens are forced,
        and where the answers part the model's next-token logits over the tokens still possible decide
        (argmax, or a draw at ``temperature``)."""
        import torch

        chosen: list[int] = []
        alive = self._answers
        while True:
            alive = [(text, tail) for text, tail in alive if tail[: len(chosen)] == chosen]
            done = [text for text, tail in alive if len(tail) == len(chosen)]
            if done:
                return done[0], len(chosen)
            options = sorted({tail[len(chosen)] for _, tail in alive})
            if len(options) > 1:
                prefix = torch.cat([ids, torch.tensor([chosen], dtype=ids.dtype)], dim=1)
                logits = self._lm(prefix).logits[0, -1, options].float()
                if temperature > 0:
                    pick = int(torch.multinomial(torch.softmax(logits / temperature, dim=0), 1))
                else:
                    pick = int(logits.argmax())
                chosen.append(options[pick])
            else:
                chosen.append(options[0])

    def _generate(self, messages: list[dict[str, str]], attempt: int) -> Completion:
        import torch

        ids = self._prompt_ids(messages)
        temperature = (
            self._config.temperature if attempt == 0 else max(self._config.temperature, RETRY_TEMPERATURE)
        )
        if self._answers is not None:
            with self._lock, torch.no_grad():
                torch.manual_seed(attempt)
                text, tokens = self._choose(ids, temperature)
            return Completion(text, prompt_tokens=int(ids.shape[1]), completion_tokens=tokens)
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
