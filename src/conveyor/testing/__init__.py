"""Test kits shipped with Conveyor: contract suites that every backend must pass.

Subclass a suite in your own tests and provide its fixture::

    class TestMyBlobStore(BlobStoreContract):
        @pytest.fixture
        def store(self, tmp_path):
            return MyBlobStore(tmp_path)
"""

from __future__ import annotations

import pytest

# Before the import below, so pytest rewrites the suite's asserts into readable failure diffs.
pytest.register_assert_rewrite("conveyor.testing.blob_contract")

from conveyor.testing.blob_contract import BlobStoreContract  # noqa: E402

__all__ = ["BlobStoreContract"]
