"""Write a synthetic FFHQR-layout test set from clean face photos (for `retouch eval`).

    python benchmarks/make_synthetic_pairs.py CLEAN_DIR OUT_ROOT --size 64 --seeds 0 1 \
        --blemish-scale 2.5 --prep-size 128

Each photo is aligned to the FFHQ framing, realistic acne / red / dark spots are planted
(`retouch.synth`, the core benchmark's planter) and OUT_ROOT/test/{source,target}/ is
written. Hold these photos out of training.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("clean_dir")
    p.add_argument("out_root")
    p.add_argument("--split", default="test")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--blemish-scale", type=float, default=1.0)
    p.add_argument("--prep-size", type=int, default=512)
    a = p.parse_args()
    from retouch.learn.data import write_synthetic_pairs

    names = write_synthetic_pairs(a.clean_dir, a.out_root, split=a.split, size=a.size,
                                  seeds=tuple(a.seeds), blemish_scale=a.blemish_scale,
                                  prep_size=a.prep_size)
    print(f"{len(names)} pairs written to {Path(a.out_root) / a.split}")


if __name__ == "__main__":
    main()
