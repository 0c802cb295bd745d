"""Shared fixtures: where the corpus and the repository are, small helpers."""

import os
import pathlib

import pytest

SOURCE_DIR = pathlib.Path(os.environ.get("OWF_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
CORPUS_DIR = pathlib.Path(os.environ.get("OWF_CORPUS_DIR", SOURCE_DIR.parent / "shared" / "corpus"))
PYTORCH_CASES = SOURCE_DIR / "tests" / "data" / "pytorch"
CONFORMANCE_DIR = SOURCE_DIR / "tests" / "conformance"


@pytest.fixture
def corpus():
    if not CORPUS_DIR.is_dir():
        pytest.skip(f"no corpus at {CORPUS_DIR}")
    return CORPUS_DIR
