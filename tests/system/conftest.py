"""Fixtures of the process-starting tests (their code is in tests/support/processes.py)."""

from tests.support.processes import env_for, migrated_data_dir

__all__ = ["env_for", "migrated_data_dir"]
