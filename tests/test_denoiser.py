"""Denoiser preconditioning, its EDM loss, and the noise schedules."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from audiodiff.diffusion import analytic
from audiodiff.diffusion.denoiser import Denoiser, EDMLoss, append_dims
from audiodiff.diffusion.noise import generators, randn
from audiodiff.diffusion.schedules import LogNormal, LogUniform, get_sigmas_exponential, get_sigmas_karras


class Recorder(nn.Module):
    """A backbone that returns a fixed map of its input and records what it was called with."""

    def forward(self, x, noise, spatial=None, global_emb=None):
        self.seen = (x.clone(), noise.clone())
        return torch.tanh(x)


def test_append_dims_broadcasts_to_any_rank():
    t = torch.arange(3.0)
    for rank in (2, 3, 4, 5):
        assert append_dims(t, rank).shape == (3,) + (1,) * (rank - 1)
    with pytest.raises(ValueError):
        append_dims(torch.zeros(2, 2), 1)


@pytest.mark.parametrize("shape", [(2, 1, 100), (2, 2, 16, 9), (2, 1, 3, 4, 5)])
def test_preconditioning_follows_edm_table_1(shape):
    backbone = Recorder()
    d = Denoiser(backbone, sigma_data=0.5)
    x = torch.randn(shape)
    sigma = torch.tensor([0.1, 3.0])
    out = d(x, sigma)
    s2 = 0.25
    c_skip = s2 / (sigma**2 + s2)
    c_out = sigma * 0.5 / (sigma**2 + s2).sqrt()
    c_in = 1 / (sigma**2 + s2).sqrt()
    expect = append_dims(c_skip, x.ndim) * x + append_dims(c_out, x.ndim) * torch.tanh(append_dims(c_in, x.ndim) * x)
    assert torch.allclose(out, expect, atol=1e-6)
    assert torch.allclose(backbone.seen[1], sigma.log() / 4)


def test_scalar_sigma_is_broadcast_to_the_batch():
    d = Denoiser(Recorder())
    x = torch.randn(3, 1, 10)
    assert torch.allclose(d(x, torch.tensor(2.0)), d(x, torch.full((3,), 2.0)))


def test_exact_denoiser_minimises_the_edm_loss():
    """The loss is lowest for the true posterior mean: scaling it away raises the loss."""
    data = analytic.audio_gaussian(512)
    loss = EDMLoss(LogNormal())
    x0 = data.draw(64, generator=torch.Generator().manual_seed(0)).float()

    class Scaled(nn.Module):
        sigma_data = 0.5

        def __init__(self, gain):
            super().__init__()
            self.gain = gain

        def forward(self, x, sigma, cond=None):
            return self.gain * data(x, sigma)

    values = [loss(Scaled(g), x0, generator=torch.Generator().manual_seed(1)).item() for g in (0.8, 1.0, 1.2)]
    assert values[1] < values[0] and values[1] < values[2]


def test_loss_trains_a_small_denoiser():
    """A few Adam steps on Gaussian data lower the EDM loss of a small conv backbone."""
    torch.manual_seed(0)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv1d(2, 16, 5, padding=2)
            self.b = nn.Conv1d(16, 1, 5, padding=2)

        def forward(self, x, noise, spatial=None, global_emb=None):
            h = torch.cat([x, noise.view(-1, 1, 1).expand_as(x)], 1)
            return self.b(torch.relu(self.a(h)))

    d = Denoiser(Net(), sigma_data=0.3)
    data = analytic.audio_gaussian(256)
    loss = EDMLoss(LogNormal(-1.0, 1.2))
    opt = torch.optim.Adam(d.parameters(), lr=3e-3)
    fixed = data.draw(256, generator=torch.Generator().manual_seed(9)).float()

    def evaluate():
        with torch.no_grad():
            return loss(d, fixed, generator=torch.Generator().manual_seed(3)).item()

    before = evaluate()
    for step in range(150):
        opt.zero_grad()
        loss(d, data.draw(32).float()).backward()
        opt.step()
    assert evaluate() < 0.8 * before


def test_karras_schedule_endpoints_and_shape():
    s = get_sigmas_karras(10, 0.002, 80.0)
    assert s.shape == (11,) and s[-1] == 0
    assert math.isclose(s[0].item(), 80.0, rel_tol=1e-6) and math.isclose(s[-2].item(), 0.002, rel_tol=1e-5)
    assert (s[:-1].diff() < 0).all()
    # eq. 5: uniform in sigma^(1/rho)
    assert torch.allclose(s[:-1].double().pow(1 / 7).diff(), s[:-1].double().pow(1 / 7).diff()[0].expand(9), atol=1e-5)


def test_exponential_schedule_is_log_uniform():
    s = get_sigmas_exponential(6, 0.01, 10.0)
    assert s.shape == (7,) and s[-1] == 0
    assert torch.allclose(s[:-1].log().diff(), torch.full((5,), math.log(0.001) / 5), atol=1e-5)


def test_one_step_schedules_start_at_sigma_max():
    assert get_sigmas_karras(1, 0.002, 80.0).tolist() == pytest.approx([80.0, 0.0])
    with pytest.raises(ValueError):
        get_sigmas_exponential(0, 0.1, 1.0)


def test_sigma_distributions_have_their_parameters():
    ln = LogNormal(-1.2, 1.2).sample(20000, generator=torch.Generator().manual_seed(0)).log()
    assert abs(ln.mean() + 1.2) < 0.05 and abs(ln.std() - 1.2) < 0.05
    lu = LogUniform(0.01, 100.0).sample(20000, generator=torch.Generator().manual_seed(0))
    assert lu.min() >= 0.01 and lu.max() <= 100.0 and abs(lu.log().mean()) < 0.1
    top = LogUniform(0.01, 10.0, top_share=0.4).sample(20000, generator=torch.Generator().manual_seed(0))
    assert abs((top == 10.0).float().mean().item() - 0.4) < 0.02
    rest = top[top < 10.0].log()
    assert top.min() >= 0.01 and abs(rest.mean().item() - (math.log(0.01) + math.log(10.0)) / 2) < 0.1


def test_per_item_generators_make_noise_independent_of_the_batch():
    batch = randn((4, 3), generators(10, 4))
    alone = randn((1, 3), generators(12, 1))
    assert torch.equal(batch[2], alone[0])
    with pytest.raises(ValueError):
        randn((3, 2), generators(0, 2))


def test_bridge_loss_starts_at_the_observation_and_ends_at_the_data():
    from audiodiff.diffusion.schedules import LogUniform

    seen = {}

    class Probe(nn.Module):
        sigma_data = 0.5

        def forward(self, x, sigma, cond=None):
            seen["x"], seen["sigma"] = x, sigma
            return torch.zeros_like(x)

    x0, start = torch.zeros(4, 2, 8, 8), torch.ones(4, 2, 8, 8)
    at_top = EDMLoss(LogUniform(0.01, 1.0, top_share=1.0), bridge_sigma=1.0)
    at_top(Probe(), x0, generator=torch.Generator().manual_seed(0), start=start)
    noise = seen["x"] - start  # at sigma_max: the observation plus noise of that sigma
    assert torch.allclose(seen["sigma"], torch.ones(4)) and abs(noise.std().item() - 1.0) < 0.15
    anywhere = EDMLoss(LogUniform(0.01, 1.0), bridge_sigma=1.0)
    anywhere(Probe(), x0, generator=torch.Generator().manual_seed(1), start=start)
    drift = (seen["x"].mean(dim=(1, 2, 3)) / seen["sigma"])  # the shift grows like sigma / bridge_sigma
    assert torch.allclose(drift, torch.ones(4), atol=0.3)
    with pytest.raises(ValueError, match="bridge"):
        anywhere(Probe(), x0)


def test_trajectory_loss_trains_at_the_sampler_own_intermediate_state():
    from audiodiff.diffusion.denoiser import TrajectoryLoss
    from audiodiff.diffusion.sampling import sample

    calls = []

    class Shrink(nn.Module):  # D(x) = 0.5 x: a sampler's states are easy to follow by hand
        sigma_data = 0.5

        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.tensor(0.5))

        def forward(self, x, sigma, cond=None):
            calls.append((x.detach().clone(), sigma.detach().clone(), torch.is_grad_enabled()))
            return self.scale * x

    def schedule(n):
        return get_sigmas_karras(n, 0.05, 0.5)

    x0, start = torch.zeros(3, 1, 4, 5), torch.ones(3, 1, 4, 5)
    loss = TrajectoryLoss(schedule, steps=(4,))(Shrink(), x0, start, generator=torch.Generator().manual_seed(0))
    *sampled, (state, sigma, with_grad) = calls
    taken = len(sampled)
    assert 1 <= taken <= 3 and with_grad and not any(g for _, _, g in sampled)
    assert torch.allclose(sigma, schedule(4)[taken].expand(3))  # an intermediate level, never the first or 0
    expected = sample(Shrink(), sampled[0][0], schedule(4)[: taken + 1], "dpmpp_2m")
    assert torch.allclose(state, expected, atol=1e-5)  # the state the sampler itself reaches
    assert abs((sampled[0][0] - start).std().item() / 0.5 - 1) < 0.3  # started at the observation plus noise
    loss.backward()
    assert loss.item() > 0


def test_overshoot_weight_makes_the_loss_optimum_a_lower_expectile():
    from audiodiff.diffusion.denoiser import weighted_error

    class Constant(nn.Module):  # D(x) = c for every input: the loss's optimum over c is an expectile
        sigma_data = 0.5

        def __init__(self):
            super().__init__()
            self.c = nn.Parameter(torch.tensor(0.0))

        def forward(self, x, sigma, cond=None):
            return self.c.expand_as(x)

    x0 = torch.tensor([0.0, 1.0]).reshape(2, 1, 1).expand(2, 1, 50).reshape(1, 1, 100)  # half 0, half 1
    for weight, optimum in ((1.0, 0.5), (3.0, 0.25)):  # expectile level 1 / (1 + weight)
        model = Constant()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.02)
        for _ in range(300):
            optimizer.zero_grad()
            weighted_error(model, x0, torch.tensor([0.5]), x0, overshoot_weight=weight).backward()
            optimizer.step()
        assert abs(model.c.item() - optimum) < 1e-3, (weight, model.c.item())
