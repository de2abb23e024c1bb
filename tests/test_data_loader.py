"""load_dataset: layout detection, bare names under RETRIEVER_DATA_HOME, the BEIR download (from a loopback
HTTP server), and its failure modes."""

from __future__ import annotations

import functools
import http.server
import threading
import zipfile
from pathlib import Path

import pytest

from retriever.data import load_dataset, loader
from retriever.errors import InputError
from tests.dataset_files import write_beir, write_dpr, write_msmarco


@pytest.mark.parametrize(("write", "ids"), [(write_beir, "d1"), (write_msmarco, "7"), (write_dpr, "1")])
def test_detects_each_layout(tmp_path, write, ids):
    dataset = load_dataset(str(write(tmp_path / "set")))
    assert dataset.corpus.ids[0] == ids and dataset.split == "test" and dataset.qrels


@pytest.mark.parametrize("write", [write_beir, write_msmarco, write_dpr])
def test_a_given_corpus_is_used_as_it_is(tmp_path, write):
    directory = str(write(tmp_path / "set"))
    first = load_dataset(directory)
    again = load_dataset(directory, "test", first.corpus)
    assert again.corpus is first.corpus and again.qrels == first.qrels


def test_paths_that_are_not_dataset_directories(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="unknown dataset layout"):
        load_dataset(str(tmp_path / "empty"))
    (tmp_path / "file.jsonl").write_text("{}\n")
    with pytest.raises(InputError, match="expected a dataset directory, found a file"):
        load_dataset(str(tmp_path / "file.jsonl"))
    with pytest.raises(InputError, match="no such dataset directory"):
        load_dataset(str(tmp_path / "nested" / "missing"))


def test_bare_name_is_looked_up_in_data_home(tmp_path, monkeypatch):
    write_beir(tmp_path / "home" / "toy")
    monkeypatch.setenv("RETRIEVER_DATA_HOME", str(tmp_path / "home"))
    assert load_dataset("toy", "train").qrels == {"q1": {"d2": 1}}


@pytest.fixture
def beir_mirror(tmp_path, monkeypatch):
    """A loopback HTTP server serving ``toy.zip`` (a BEIR folder) and ``flat.zip`` (files without the folder);
    BEIR_URL points at it and RETRIEVER_DATA_HOME at an empty folder."""
    served = tmp_path / "served"
    source = write_beir(tmp_path / "source" / "toy")
    served.mkdir()
    for archive_name, prefix in (("toy.zip", "toy/"), ("flat.zip", "")):
        with zipfile.ZipFile(served / archive_name, "w") as bundle:
            for path in source.rglob("*"):
                if path.is_file():
                    bundle.write(path, prefix + path.relative_to(source).as_posix())
    (served / "junk.zip").write_bytes(b"this is not a zip")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    home = tmp_path / "home"
    monkeypatch.setenv("RETRIEVER_DATA_HOME", str(home))
    monkeypatch.setattr(loader, "BEIR_URL", f"http://127.0.0.1:{server.server_port}/{{name}}.zip")
    yield home
    server.shutdown()
    server.server_close()


def test_downloads_and_unpacks_a_missing_beir_dataset_once(beir_mirror):
    dataset = load_dataset("toy")
    assert dataset.qrels == {"q1": {"d1": 1}, "q2": {"d3": 2}}
    assert sorted(path.name for path in beir_mirror.iterdir()) == ["toy"]  # no archive or temp folder left
    assert (beir_mirror / "toy" / "corpus.jsonl").is_file()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("absent", "404"),
        ("junk", "is not a zip archive"),
        ("flat", "has no folder 'flat'"),
    ],
)
def test_download_failures_are_one_line_input_errors(beir_mirror, name, message):
    with pytest.raises(InputError, match=message) as error:
        load_dataset(name)
    assert "\n" not in str(error.value)
    assert not (beir_mirror / name).exists() and not list(beir_mirror.glob(".*"))


def test_offline_download_says_to_set_data_home(tmp_path, monkeypatch):
    closed = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    port = closed.server_port
    closed.server_close()  # nothing listens there any more
    monkeypatch.setenv("RETRIEVER_DATA_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(loader, "BEIR_URL", f"http://127.0.0.1:{port}/{{name}}.zip")
    with pytest.raises(
        InputError, match=r"downloading .* failed \(ConnectError.*set RETRIEVER_DATA_HOME"
    ) as error:
        load_dataset("scifact")
    assert error.value.path == str(Path(tmp_path / "home" / "scifact"))


def test_real_scifact_by_name(shared_data, monkeypatch):
    monkeypatch.setenv("RETRIEVER_DATA_HOME", str(shared_data))
    dataset = load_dataset("scifact", "train")
    assert (dataset.name, len(dataset.corpus), len(dataset.qrels)) == ("scifact", 5183, 809)
