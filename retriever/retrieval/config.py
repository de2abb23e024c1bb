"""Settings that change retrieval numbers, shared by eval, mining and serving (each composes what it needs).

Every field has a documented default and is echoed into the reports and manifests that use it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from retriever.config import StrictModel

TitleSeparator = Annotated[
    str,
    Field(description="Joins a document's title and text (title + sep + text; BEIR and MTEB use a space)."),
]


class EncoderConfig(StrictModel):
    """How texts become vectors (see :class:`retriever.retrieval.encoder.Encoder`)."""

    batch_size: int = Field(64, ge=1, description="Texts per forward pass.")
    max_seq_length: int | None = Field(
        None, ge=1, description="Truncate inputs to this many tokens; None keeps the model's own limit."
    )
    query_prompt: str = Field(
        "", description="Prefix added to every query, e.g. 'query: ' (E5) or a BGE hint."
    )
    document_prompt: str = Field("", description="Prefix added to every document, e.g. 'passage: ' (E5).")
    title_separator: TitleSeparator = " "
    device: str | None = Field(None, description="torch device; None picks cuda when available, else cpu.")
    precision: Literal["fp32", "bf16"] = Field(
        "fp32",
        description="Encoding precision: fp32 (published numbers reproduce exactly) or bf16 autocast "
        "(faster on GPUs and on CPUs with AVX-512 BF16 / AMX; vectors differ slightly).",
    )


class IndexConfig(StrictModel):
    """The FAISS index over document vectors (see :class:`retriever.retrieval.dense_index.DenseIndex`).

    ``flat`` is exact inner-product search. ``hnsw`` is a graph (recall grows with ``hnsw_ef_search``).
    ``ivfpq`` clusters into ``ivf_nlist`` lists, compresses vectors into ``pq_m`` codes of ``pq_nbits`` bits
    and probes ``ivf_nprobe`` lists per query; it needs at least ``max(ivf_nlist, 2**pq_nbits)`` documents
    to train.
    """

    type: Literal["flat", "hnsw", "ivfpq"] = Field("flat", description="flat (exact), hnsw or ivfpq.")
    hnsw_m: int = Field(32, ge=2, description="HNSW: neighbours per node.")
    hnsw_ef_construction: int = Field(200, ge=1, description="HNSW: candidate list size while building.")
    hnsw_ef_search: int = Field(256, ge=1, description="HNSW: candidate list size while searching.")
    ivf_nlist: int = Field(256, ge=1, description="IVF-PQ: number of coarse clusters.")
    ivf_nprobe: int = Field(32, ge=1, description="IVF-PQ: clusters visited per query.")
    pq_m: int = Field(16, ge=1, description="IVF-PQ: sub-quantizers (must divide the embedding dimension).")
    pq_nbits: int = Field(8, ge=1, le=16, description="IVF-PQ: bits per sub-quantizer code.")
    train_sample: int = Field(100_000, ge=1, description="IVF-PQ: at most this many vectors train the index.")
    use_gpu: bool = Field(True, description="Move flat/ivfpq indexes to all GPUs when faiss has GPUs.")
    seed: int = Field(0, description="Seed of the training sample and k-means.")


class BM25Config(StrictModel):
    """Lexical BM25 settings (see :mod:`retriever.retrieval.bm25`).

    The defaults (bm25s, Lucene scoring, k1=1.5, b=0.75, Snowball English stemmer, English stopwords,
    text = title + " " + text) reproduce the bm25s SciFact reference, nDCG@10 = 0.686.
    """

    backend: Literal["bm25s", "rank_bm25", "pyserini"] = Field("bm25s", description="BM25 engine.")
    method: Literal["lucene", "robertson", "atire", "bm25l", "bm25+"] = Field(
        "lucene", description="bm25s scoring variant (rank_bm25 maps robertson->BM25Okapi, bm25l, bm25+)."
    )
    k1: float = Field(1.5, ge=0, description="Term-frequency saturation.")
    b: float = Field(0.75, ge=0, le=1, description="Document-length normalisation.")
    delta: float = Field(0.5, ge=0, description="Lower bound added by bm25l / bm25+.")
    stemmer: str | None = Field(
        "english", description="PyStemmer (Snowball) language; None disables stemming."
    )
    stopwords: str | None = Field("en", description="bm25s stopword list name; None keeps every token.")
    title_separator: TitleSeparator = " "


class FusionConfig(StrictModel):
    """How a hybrid system combines the dense and BM25 rankings (see :mod:`retriever.retrieval.fusion`)."""

    method: Literal["rrf", "interpolation"] = Field("rrf", description="rrf or min-max score interpolation.")
    rrf_k: int = Field(60, ge=1, description="RRF: score = sum over runs of 1 / (rrf_k + rank).")
    alpha: float = Field(
        0.5, ge=0, le=1, description="Interpolation: alpha * dense + (1 - alpha) * bm25 (min-max per query)."
    )
    depth: int = Field(1000, ge=1, description="Candidates taken from each run before fusing.")


class FeedbackConfig(StrictModel):
    """Dense pseudo-relevance feedback (Rocchio on vectors, as Pyserini's dense ``--prf-method rocchio``): a
    first search, then ``q' = q + weight * mean(top-depth document vectors)`` searched again
    (:func:`retriever.retrieval.search.dense_search`)."""

    depth: int = Field(0, ge=0, description="Documents of the first search fed back into the query; 0 = off.")
    weight: float = Field(0.5, gt=0, description="Weight of their mean vector against the query's (1).")


class ExpansionConfig(StrictModel):
    """Document expansion with labelled queries, doc2query with real queries in place of generated ones: every
    document that queries of ``split`` are labelled relevant to (qrels grade >= 1) gets their texts appended for
    BM25, and its vector moved towards theirs for dense retrieval, ``d' = d + weight * sum_{q in Q(d)} q / |D(q)|``
    with ``D(q)`` the documents ``q`` is relevant to (each query spreads one weight over them; unit length again
    for cosine models); other documents are left as they are (:mod:`retriever.retrieval.expansion`). The
    queries evaluated or served must not be among them."""

    split: str | None = Field(
        None, description="Split whose labelled queries expand the documents, e.g. train; None = off."
    )
    weight: float = Field(
        2.0,
        gt=0,
        description="Dense: the weight each labelled query spreads over its relevant documents, against the "
        "document's own vector (1); 2 was best on NFCorpus dev and on held-out SciFact train claims.",
    )
