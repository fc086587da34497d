"""Selective self-attention: imperfect (masked) tokens never give content to anyone."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from retouch.learn.attention import (  # noqa: E402
    SelectiveTransformer,
    SelectiveWindowAttention,
    merge,
    partition,
)


def _window_case(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    bw, n, c = 3, 16, 8
    x = torch.randn(bw, n, c, generator=g)
    m = (torch.rand(bw, n, 1, generator=g) > 0.6).float()
    m[0, :5, 0] = torch.tensor([0.3, 0.7, 0.0, 1.0, 0.5])   # soft values too
    m[2] = 1.0                                                 # a fully imperfect window
    return x, m, torch.ones_like(m)


def test_masked_keys_get_zero_weight_and_their_content_does_not_leak():
    torch.manual_seed(0)
    attn = SelectiveWindowAttention(8, heads=2, window=4)
    with torch.no_grad():
        attn.proj.bias.normal_()
    x, m, valid = _window_case()
    hard = m[..., 0] == 1.0
    planted = x.clone()
    planted[hard] = 1e3 * torch.randn(int(hard.sum()), 8)       # distinctive, huge values
    with torch.no_grad():
        out, w = attn(x, m, valid, return_weights=True)
        out_p, w_p = attn(planted, m, valid, return_weights=True)
    # 1. No query puts any weight on a fully imperfect key.
    key_hard = hard[:, None, None, :].expand_as(w)
    assert torch.all(w[key_hard] == 0) and torch.all(w_p[key_hard] == 0)
    # 2. Queries of normal tokens give bit-identical outputs with or without the plant.
    assert torch.equal(out[~hard], out_p[~hard])
    # 3. Imperfect queries change (their own query changed), but every output is built from
    #    the normal tokens' values alone: recomputing it from the weights and the values of
    #    the *unplanted* input gives the same numbers, and per head it stays inside the range
    #    of the normal tokens' values.
    bw, n, c = x.shape
    v = attn.v(x * (1 - m)).view(bw, n, 2, c // 2).transpose(1, 2)          # (Bw, h, N, dh)
    pre = (w_p @ v).transpose(1, 2).reshape(bw, n, c)
    assert torch.allclose(attn.proj(pre), out_p, atol=1e-5)
    for b in range(2):                       # windows with at least one normal key
        normal = ~hard[b]
        per_head = w_p[b] @ v[b]                                             # (h, N, dh)
        lo = v[b][:, normal].min(1, keepdim=True).values
        hi = v[b][:, normal].max(1, keepdim=True).values
        assert torch.all(per_head >= lo - 1e-5) and torch.all(per_head <= hi + 1e-5)
    # 4. A window of only imperfect keys outputs just the projection bias (no content).
    assert torch.allclose(out_p[2], attn.proj.bias.expand(16, 8), atol=1e-6)


def test_same_plant_leaks_without_the_mask():
    """Sensitivity check of the test above: with m = 0 the planted values do leak."""
    torch.manual_seed(0)
    attn = SelectiveWindowAttention(8, heads=2, window=4)
    x, m, valid = _window_case()
    hard = m[..., 0] == 1.0
    planted = x.clone()
    planted[hard] = 1e3 * torch.randn(int(hard.sum()), 8)
    zero = torch.zeros_like(m)
    with torch.no_grad():
        a, _ = attn(x, zero + 0.5, valid)      # half-imperfect: keys and values open
        b, _ = attn(planted, zero + 0.5, valid)
    assert not torch.equal(a[~hard], b[~hard])


def test_transformer_normal_tokens_independent_of_imperfect_tokens():
    torch.manual_seed(1)
    tr = SelectiveTransformer(16, depth=3, heads=2, window=4, mlp_ratio=2.0).eval()
    x = torch.randn(2, 10, 10, 16)               # 10 is not a multiple of 4: padded windows
    m = torch.zeros(2, 10, 10, 1)
    m[0, 2:5, 3:7] = 1.0
    m[1, 6:10, 0:3] = 1.0
    m[1, 0, 0] = 0.4                              # a soft (partly imperfect) token
    planted = x.clone()
    hard = m[..., 0] == 1.0
    planted[hard] = 1e4
    with torch.no_grad():
        a, b = tr(x, m), tr(planted, m)
    assert torch.equal(a[~hard], b[~hard])       # across plain and shifted windows, 3 blocks
    assert not torch.equal(a[hard], b[hard])     # (the imperfect tokens' own stream differs)


def test_partition_merge_round_trip():
    t = torch.randn(2, 10, 10, 3)
    for off in (0, 2):
        w, n = partition(t, 4, off)
        assert w.shape[1] == 16
        assert torch.equal(merge(w, 2, 10, n, 4, off), t)
