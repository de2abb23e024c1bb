"""GradCache variants of every objective, from one mixin over sentence-transformers' ``CachedLossMixin``.

``CachedLossMixin.forward_cached`` (1) embeds the queries and passages mini-batch by mini-batch without a
graph, (2) calls :meth:`CachedMultiPositiveMixin.calculate_loss`, which concatenates the mini-batch
embeddings and runs the plain loss's ``compute_loss_from_embeddings`` (so each objective's math exists
once), back-propagating it to the embeddings, and (3) re-embeds each mini-batch with gradients, replaying
the RNG state, and chains the cached embedding gradients into the model. The loss and the parameter
gradients equal the uncached loss's; memory is bounded by ``mini_batch_size`` instead of the batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from sentence_transformers.base.losses.gradcache import CachedLossMixin
from torch import Tensor

from retriever.train.losses.base import MultiPositiveLoss
from retriever.train.losses.joint import JointLHLoss
from retriever.train.losses.lsepair import LSEPairLoss
from retriever.train.losses.single import Rand1LHLoss, SingleLoss
from retriever.train.losses.summarg import SumMargLHLoss

GRADCACHE_CITATION = """
@misc{gao2021scaling,
    title={Scaling Deep Contrastive Learning Batch Size under Memory Limited Setup},
    author={Luyu Gao and Yunyi Zhang and Jiawei Han and Jamie Callan},
    year={2021},
    eprint={2101.06983},
    archivePrefix={arXiv},
    primaryClass={cs.LG},
}
"""


class CachedMultiPositiveMixin(CachedLossMixin):
    """Put before a :class:`MultiPositiveLoss` subclass to make it a GradCache loss."""

    def __init__(
        self,
        model: torch.nn.Module,
        *args: Any,
        mini_batch_size: int = 32,
        show_progress_bar: bool = False,
        **kwargs,
    ) -> None:
        """Takes the plain loss's arguments plus ``mini_batch_size`` (texts embedded at once, > 0)."""
        super().__init__(model, *args, **kwargs)
        if not (isinstance(mini_batch_size, int) and mini_batch_size > 0):
            raise ValueError(f"mini_batch_size must be a positive integer, got {mini_batch_size!r}")
        self.mini_batch_size = mini_batch_size
        self.show_progress_bar = show_progress_bar

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: dict[str, Tensor]) -> Tensor:
        return self.forward_cached(sentence_features, labels)

    def calculate_loss(
        self,
        reps: list[list[Tensor]],
        labels: dict[str, Tensor] | None = None,
        *,
        with_backward: bool = False,
    ) -> Tensor:
        """The plain loss of the concatenated mini-batch embeddings, back-propagated if ``with_backward``."""
        loss = self.compute_loss_from_embeddings([torch.cat(column) for column in reps], labels)
        if with_backward:
            loss.backward()
            loss = loss.detach()
        return loss

    def get_config_dict(self) -> dict[str, Any]:
        return {**super().get_config_dict(), "mini_batch_size": self.mini_batch_size}

    @property
    def citation(self) -> str:
        return super().citation + GRADCACHE_CITATION


def cached_variant(loss_class: type[MultiPositiveLoss]) -> type[MultiPositiveLoss]:
    """``Cached<Name>``: ``loss_class`` with :class:`CachedMultiPositiveMixin` in front."""
    return type(
        f"Cached{loss_class.__name__}",
        (CachedMultiPositiveMixin, loss_class),
        {"__module__": __name__, "__doc__": f"GradCache variant of :class:`{loss_class.__name__}`."},
    )


CachedSingleLoss = cached_variant(SingleLoss)
CachedRand1LHLoss = cached_variant(Rand1LHLoss)
CachedJointLHLoss = cached_variant(JointLHLoss)
CachedSumMargLHLoss = cached_variant(SumMargLHLoss)
CachedLSEPairLoss = cached_variant(LSEPairLoss)
