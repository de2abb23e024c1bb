"""Library versions: one package list, the same keys in every output, "not installed" recorded as None."""

from __future__ import annotations

import platform

import retriever
from retriever import provenance


def test_keys_in_order_with_missing_packages_as_none(monkeypatch):
    monkeypatch.setattr(provenance, "PACKAGES", ("torch", "surely-not-an-installed-package"))
    found = provenance.library_versions()
    assert list(found) == ["python", "retriever", "torch", "surely-not-an-installed-package"]
    assert found["python"] == platform.python_version() and found["retriever"] == retriever.__version__
    assert found["torch"] and found["surely-not-an-installed-package"] is None


def test_the_eval_report_and_the_mine_manifest_use_the_one_list():
    """(The index manifest's versions are compared with library_versions() in test_index_dir.)"""
    from retriever.eval import runner
    from retriever.mine import pipeline

    assert runner.library_versions is pipeline.library_versions is provenance.library_versions
    assert list(provenance.library_versions()) == ["python", "retriever", *provenance.PACKAGES]
