"""Dataset formats (BEIR, MS MARCO, DPR/NQ, Hugging Face) read into one :class:`Dataset`."""

from retriever.data.dataset import Corpus, Dataset, Qrels, Run
from retriever.data.loader import load_dataset

__all__ = ["Corpus", "Dataset", "Qrels", "Run", "load_dataset"]
