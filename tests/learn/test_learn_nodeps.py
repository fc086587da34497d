"""Without torch: the core still works, and the learned commands say what to install."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

# Makes `import torch` (and onnxruntime) fail, as on an install without the [learn] extra.
BLOCK = "import sys; sys.modules['torch'] = None; sys.modules['onnxruntime'] = None; "


def _py(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK + code], capture_output=True, text=True,
                          cwd=tmp_path, env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin",
                                             "GLOG_minloglevel": "2"}, timeout=120)


def test_core_and_configs_import_without_torch(tmp_path):
    r = _py("import retouch, retouch.cli, retouch.pipeline, retouch.learn;"
            "from retouch.learn import load_config; print(load_config('tiny').model.image_size)",
            tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "64"


def test_learned_commands_exit_4_with_the_install_hint(tmp_path):
    (tmp_path / "ck.pt").write_bytes(b"x")
    (tmp_path / "ck.onnx").write_bytes(b"x")
    code = ("from retouch.cli import run; import sys; sys.exit(run(sys.argv[1:]))")
    for argv in (["train", "retouchformer", "tiny", "--out", str(tmp_path / "o")],
                 ["eval", "retouchformer", "--data", ".", "--checkpoint", "ck.pt"],
                 ["sample", "-o", str(tmp_path / "o.png"), "--engine", "learned",
                  "--checkpoint", "ck.pt"],
                 ["sample", "-o", str(tmp_path / "o.png"), "--engine", "learned",
                  "--checkpoint", "ck.onnx"]):
        r = subprocess.run([sys.executable, "-c", BLOCK + code, *argv], capture_output=True,
                           text=True, cwd=tmp_path, timeout=120,
                           env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin",
                                "GLOG_minloglevel": "2"})
        assert r.returncode == 4, (argv, r.stderr)
        assert "pip install 'retouch[learn]'" in r.stderr, r.stderr
        assert r.stderr.count("\n") == 1            # one line, no traceback


def test_model_command_dispatch(capsys):
    from retouch.cli import run
    from retouch.cli_models import MODEL_COMMANDS

    assert set(MODEL_COMMANDS) == {"train", "eval", "export"}
    assert run(["train"]) == 2 and "models: restore, retouchformer" in capsys.readouterr().err
    assert run(["eval", "--help"]) == 0 and "retouchformer" in capsys.readouterr().out
    assert run(["train", "nosuchmodel"]) == 2
    assert "unknown model 'nosuchmodel'" in capsys.readouterr().err
