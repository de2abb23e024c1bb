"""Index directories: build one from a model and a corpus (``retriever index``), load and search it
(``retriever serve`` and :func:`retriever.load_index`)."""
