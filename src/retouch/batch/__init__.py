"""Batch retouching: a folder (or an fsspec URL) in, the same tree out.

>>> from retouch.batch import BatchSettings, run_batch
>>> summary = run_batch("shoot/", "retouched/", BatchSettings(), workers=2)  # doctest: +SKIP
>>> print(summary.format())                                                 # doctest: +SKIP

One module per job: :mod:`.settings` (what to do, and its key for resuming),
:mod:`.storage` (fsspec paths and atomic writes), :mod:`.walk` (which files),
:mod:`.job` (one file, run by every executor), :mod:`.executors` (local
process pool, Dask cluster), :mod:`.progress` (bar with ETA), :mod:`.log`
(JSON-lines log), :mod:`.runner` (puts them together).
"""

from __future__ import annotations

from .job import FileJob, FileResult, process_one
from .runner import BatchSummary, run_batch
from .settings import BatchSettings

__all__ = ["BatchSettings", "BatchSummary", "FileJob", "FileResult", "process_one", "run_batch"]
