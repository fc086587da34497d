"""The restorer's network pieces: modulated convolution, DDIM sampler, VSPBFR forward."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402, N812

from retouch.learn.restore.config import tiny  # noqa: E402
from retouch.learn.restore.diffusion import NoiseSchedule, ddim_sample  # noqa: E402
from retouch.learn.restore.network import (  # noqa: E402
    VSPBFR,
    CodeDiffuser,
    ModConv2d,
    normalize_codes,
)


def test_modconv_equals_per_sample_modulated_demodulated_weights():
    torch.manual_seed(0)
    conv = ModConv2d(6, 4, 3, dilation=2)
    with torch.no_grad():
        conv.bias.normal_()
    x = torch.randn(3, 6, 9, 9)
    s = torch.rand(3, 6) + 0.5
    y = conv(x, s)
    for b in range(3):
        w = conv.weight * conv.scale * s[b][None, :, None, None]
        w = w / (w.pow(2).sum(dim=(1, 2, 3), keepdim=True) + 1e-8).sqrt()
        ref = F.conv2d(x[b:b + 1], w, conv.bias, padding=2, dilation=2)
        assert torch.allclose(y[b:b + 1], ref, atol=1e-5)


def _random_diffuser(seed: int = 0) -> CodeDiffuser:
    torch.manual_seed(seed)
    d = CodeDiffuser(tiny().model).eval()
    with torch.no_grad():
        d.out[1].weight.normal_(0, 0.5)    # the head starts at zero; make the noise matter
    return d


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_ddim_sampler_is_deterministic_with_a_seed(eta):
    cfg = tiny().model
    d, sched = _random_diffuser(), NoiseSchedule(cfg.timesteps, cfg.schedule)
    cond = normalize_codes(torch.randn(2, cfg.style_tokens, cfg.style_dim))

    def run(seed: int) -> torch.Tensor:
        return ddim_sample(d, sched, cond, 4, generator=torch.Generator().manual_seed(seed),
                           eta=eta)

    a, b, c = run(7), run(7), run(8)
    assert torch.equal(a, b)
    assert (a - c).abs().max() > 1e-3           # the noise does reach the result
    assert a.shape == cond.shape
    assert torch.allclose(a.mean(-1), torch.zeros(2, cfg.style_tokens), atol=1e-5)


@pytest.mark.parametrize("prediction", ["x0", "eps"])
@pytest.mark.parametrize("kind", ["cosine", "linear"])
def test_ddim_with_an_oracle_denoiser_returns_the_clean_code(prediction, kind):
    """A denoiser that knows z0 (and answers in either parametrization) makes DDIM land on z0."""
    sched = NoiseSchedule(100, kind)
    z0 = normalize_codes(torch.randn(3, 4, 16, generator=torch.Generator().manual_seed(1)))

    def oracle(z_t, t, cond):
        if prediction == "x0":
            return z0
        a = sched.alpha_bar[t].view(-1, 1, 1)
        return (z_t - a.sqrt() * z0) / (1 - a).sqrt()

    out = ddim_sample(oracle, sched, torch.zeros_like(z0), 5, prediction=prediction,
                      generator=torch.Generator().manual_seed(0))
    assert torch.allclose(out, z0, atol=1e-4)
    assert sched.sample_timesteps(5) == [99, 74, 50, 25, 0]


def test_untrained_restorer_returns_its_input_and_forward_is_seeded():
    torch.manual_seed(0)
    m = VSPBFR(tiny().model).eval()
    y = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        out = m(y, generator=torch.Generator().manual_seed(0))
        assert out.image.shape == (2, 3, 32, 32) and out.codes.shape == (2, 4, 16)
        assert torch.equal(out.image, y)     # zero-initialized residual head
        recon, z = m.style(y)
        assert recon.shape == y.shape
        assert torch.allclose(z.std(-1, unbiased=False), torch.ones(2, 4), atol=1e-3)
        with torch.no_grad():
            m.restorer.head[-1].weight.normal_(0, 0.1)
            m.diffuser.out[1].weight.normal_(0, 0.5)
        o1 = m(y, generator=torch.Generator().manual_seed(3)).image
        o2 = m(y, generator=torch.Generator().manual_seed(3)).image
        o3 = m(y, generator=torch.Generator().manual_seed(4)).image
    assert torch.equal(o1, o2) and not torch.equal(o1, o3)
