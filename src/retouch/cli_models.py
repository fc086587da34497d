"""``retouch train|eval|export MODEL ...``: commands of the learned models.

Each verb has a table ``model name -> "module:function"``; the function takes the
arguments after the model name and returns an exit code. A model adds itself
with one line per verb (e.g. a learned restorer would add ``"restore"`` to
``train`` and ``eval``). The model modules import torch lazily, so these
commands exist (and ``--help`` works) without the ``learn`` extra.
"""

from __future__ import annotations

import importlib
import sys

#: verb -> model name -> "module:function(argv) -> int".
MODEL_COMMANDS: dict[str, dict[str, str]] = {
    "train": {"retouchformer": "retouch.learn.cli:train_main",
              "restore": "retouch.learn.restore.cli:train_main"},
    "eval": {"retouchformer": "retouch.learn.cli:eval_main",
             "restore": "retouch.learn.restore.cli:eval_main"},
    "export": {"retouchformer": "retouch.learn.cli:export_main"},
}

_WHAT = {
    "train": "train a learned model from a config (YAML/JSON file or preset name)",
    "eval": "evaluate a checkpoint on a test set, beside the input-vs-target baseline",
    "export": "export a checkpoint's inference graph (ONNX) and check it against PyTorch",
}


def run_model_command(verb: str, argv: list[str]) -> int:
    """Dispatch ``retouch VERB MODEL ARGS...`` to the model's function."""
    table = MODEL_COMMANDS[verb]
    usage = (f"usage: retouch {verb} MODEL [options]   ({_WHAT[verb]})\n"
             f"models: {', '.join(sorted(table))}\n"
             f"run `retouch {verb} MODEL --help` for a model's options")
    if not argv or argv[0] in ("-h", "--help"):
        print(usage, file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    name = argv[0]
    if name not in table:
        print(f"retouch: error: unknown model {name!r} for `retouch {verb}`; expected one of "
              f"{', '.join(sorted(table))}", file=sys.stderr)
        return 2
    module, func = table[name].split(":")
    return int(getattr(importlib.import_module(module), func)(argv[1:]))
