"""retriever: train, evaluate and serve dense retrievers.

Stages read files and write files (see ``docs/design.md``): ``mine`` builds multi-positive training data,
``train`` fits bi-encoders with multi-positive objectives, ``eval`` reports trec_eval-exact metrics,
``index``/``serve``/``push`` take a model to users.
"""

__version__ = "0.1.0"
