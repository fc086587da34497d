"""CLI: ``retouch INPUT -o OUT -i "..."``, ``--plan``, and ``retouch chat`` fed through a pipe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from retouch.cli import run

SRC = str(Path(__file__).resolve().parents[1] / "src")


def test_chat_over_a_pipe(tmp_path):
    out = tmp_path / "final.png"
    lines = ["show me what you found", "remove the big pimple on the right cheek", "a bit more",
             "undo that", "remove the blemishes on my chin but keep the moles",
             "make me taller", f"save as {out}", "quit"]
    env = dict(os.environ, PYTHONPATH=SRC, GLOG_minloglevel="2")
    r = subprocess.run([sys.executable, "-m", "retouch.cli", "chat", "sample",
                        "--preview", str(tmp_path / "p.jpg")], input="\n".join(lines) + "\n",
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    said = [ln for ln in r.stdout.splitlines() if ln and not ln.startswith("> ")]
    assert said[0].startswith("I found ") and "blemishes" in said[0]
    replies = said[1:]
    assert len(replies) == len(lines)
    assert replies[1].startswith("Removed the largest of")
    assert replies[3] == "Undid 'a bit more'."
    assert replies[4].startswith("Removed") and "chin" in replies[4]
    assert replies[5].startswith("Sorry, I did not understand 'make me taller'")
    assert replies[6] == f"Saved {out}."
    assert replies[7] == "Bye."
    assert out.exists() and (tmp_path / "p.jpg").exists() and (tmp_path / "p_found.png").exists()
    assert "Traceback" not in r.stderr


def test_instruction_end_to_end(tmp_path, capsys):
    out, rep = tmp_path / "o.png", tmp_path / "r.json"
    code = run(["sample", "-o", str(out), "--report", str(rep), "-i",
                "remove the acne on the forehead and chin but keep the freckles, and lighten "
                "the dark circles a little"])
    assert code == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"{out}: Removed") and "dark circles" in printed
    report = json.loads(rep.read_text())
    ins = report["instruction"]
    assert [o["operation"]["action"] for o in ins["operations"]] == ["remove", "reduce", "keep"]
    assert ins["pixels_changed"] > 0
    inp = np.asarray(Image.open(tmp_path / "o_input.png"))
    res = np.asarray(Image.open(out))
    changed = np.any(inp != res, axis=2)
    assert changed.sum() == ins["pixels_changed"]


def test_instruction_errors_are_one_line(tmp_path, capsys):
    out = tmp_path / "o.png"
    assert run(["sample", "-o", str(out), "-i", "make me taller"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["retouch: error: could not understand the instruction 'make me taller'; "
                   "try e.g. 'remove the acne on my chin but keep the freckles'"]
    assert not out.exists()
    assert run(["sample", "-o", str(out), "-i", "remove acne", "--keep", "mole"]) == 2
    assert "replace --only, --keep and --strength" in capsys.readouterr().err
    assert run(["sample", "-o", str(out), "-i", "x", "--interpreter", "openai"]) == 2
    assert "needs a server URL" in capsys.readouterr().err


def test_partly_understood_instruction_warns(tmp_path, capsys):
    out = str(tmp_path / "o.png")
    assert run(["sample", "-o", out, "-i", "remove the zits and add a hat"]) == 0
    io = capsys.readouterr()
    assert "retouch: warning: did not understand 'add a hat'" in io.err
    assert "Removed" in io.out


def test_plan_file(tmp_path, capsys):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"operations": [{"action": "remove", "types": ["dark_spot"],
                                                "regions": ["chin"]}]}))
    assert run(["sample", "-o", str(tmp_path / "o.png"), "--plan", str(plan)]) == 0
    assert "dark spots on the chin" in capsys.readouterr().out
    plan.write_text('{"operations": [{"action": "remove", "types": ["tattoo"]}]}')
    assert run(["sample", "-o", str(tmp_path / "o.png"), "--plan", str(plan)]) == 2
    assert "unknown name 'tattoo'" in capsys.readouterr().err
    assert run(["sample", "-o", str(tmp_path / "o.png"), "--plan", str(tmp_path / "no.json")]) == 2
    assert "cannot read the plan" in capsys.readouterr().err


def test_chat_bad_input_is_one_line(tmp_path, capsys):
    assert run(["chat", str(tmp_path / "missing.jpg")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("retouch: error:")
