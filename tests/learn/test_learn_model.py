"""The network: shapes, the VQ prior, soft inpainting, save -> load identity."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from retouch.learn.checkpoint import load_model, read_checkpoint, save_weights  # noqa: E402
from retouch.learn.config import tiny  # noqa: E402
from retouch.learn.model import PatchDiscriminator, RetouchFormer  # noqa: E402


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return RetouchFormer(tiny().model).eval()


def test_output_shapes_and_soft_inpainting(model):
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = model(x)
    assert out.image.shape == out.proposal.shape == out.recon.shape == (2, 3, 64, 64)
    assert [m.shape[-1] for m in out.masks] == [64, 32, 16]
    assert out.token_mask.shape == (2, 1, 16, 16)
    assert all(float(m.min()) >= 0 and float(m.max()) <= 1 for m in out.masks)
    m0 = out.masks[0]
    assert torch.allclose(out.image, m0 * out.proposal + (1 - m0) * x, atol=1e-6)
    d = PatchDiscriminator(tiny().model)(x)
    assert d.shape[:2] == (2, 1)


def test_quantizer_snaps_to_unit_codebook_vectors(model):
    q = model.prior.quantizer
    z = torch.randn(1, q.dim, 4, 4)
    with torch.no_grad():
        out = q(z)
    codes = torch.nn.functional.normalize(q.codebook.weight, dim=1)
    assert out.indices.min() >= 0 and out.indices.max() < q.num_codes
    got = out.z_q.permute(0, 2, 3, 1).reshape(-1, q.dim)
    assert torch.allclose(got, codes[out.indices.reshape(-1)], atol=1e-6)
    assert 1.0 <= float(out.perplexity) <= 16.0


def test_save_load_gives_identical_outputs(model, tmp_path):
    cfg = tiny()
    path = tmp_path / "w.pt"
    save_weights(path, model, cfg, "main", 7)
    loaded, cfg2, meta = load_model(path)
    assert cfg2.model == cfg.model and meta["step"] == 7
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        a, b = model(x), loaded(x)
    assert torch.equal(a.image, b.image) and torch.equal(a.masks[0], b.masks[0])
    ck = read_checkpoint(path)   # weights_only load: no pickled code runs
    assert ck["format"] == "retouch-retouchformer" and ck["version"] == 1


def test_not_a_checkpoint_is_a_clear_error(tmp_path):
    from retouch.errors import InvalidInputError

    bad = tmp_path / "x.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(InvalidInputError, match="not a readable checkpoint"):
        load_model(bad)
    torch.save({"format": "other"}, tmp_path / "y.pt")
    with pytest.raises(InvalidInputError, match="not a retouch RetouchFormer checkpoint"):
        load_model(tmp_path / "y.pt")
