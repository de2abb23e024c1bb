"""Training stage: multi-positive losses (``retriever.train.losses``), the batch label contract
(``retriever.train.labels``), batching and the trainer wrapper.

Kept import-light: nothing heavy (torch, sentence-transformers) is imported here.
"""
