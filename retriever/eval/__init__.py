"""Evaluation: metrics, encoding, indexes, search and reports. Import the submodules directly
(``from retriever.eval.metrics import evaluate_run``); this package imports nothing heavy."""
