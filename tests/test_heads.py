"""Conditioning heads: shapes through the two doors (spatial, global), null conditions, errors,
and one end-to-end model with a composite head (notes + class) on the band-split backbone."""

from __future__ import annotations

import math

import pytest
import torch

from audiodiff.model import DiffusionModel
from audiodiff.observations import Condition
from audiodiff.nn.heads import HEADS, ClassHead

B, N = 2, 7
SHAPE_TESTED = {"observation", "mel", "mel_wave", "notes", "class", "composite"}


pytestmark = pytest.mark.usefixtures("one_thread")


def build(name, **args):
    torch.manual_seed(0)
    return HEADS.build({"name": name, "args": args})


def test_every_registered_head_has_a_shape_test():
    assert set(HEADS.names()) <= SHAPE_TESTED, f"untested heads: {set(HEADS.names()) - SHAPE_TESTED}"


# observation -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(B, 2, 256, N), (B, 2, 256, 1), (B, 4, 80, N), (B, 2, 1000)])
def test_observation_head_is_the_identity(shape):
    head = build("observation", channels=shape[1])
    cond = torch.randn(shape)
    spatial, global_emb = head(cond)
    assert spatial is cond and global_emb is None
    assert head.spatial_channels == shape[1] and head.global_dim == 0


def test_observation_head_checks_channels_and_has_a_zero_null():
    head = build("observation", channels=2)
    with pytest.raises(ValueError, match="channels"):
        head(torch.randn(B, 4, 256, N))
    cond = torch.randn(B, 2, 256, N)
    assert torch.equal(head.null(cond), torch.zeros_like(cond))


# mel ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("channels, frames", [(2, N), (3, 1), (1, 64)])
def test_mel_to_spectrogram_aligned_features(channels, frames):
    head = build("mel", channels=channels)
    spatial, global_emb = head(torch.randn(B, 80, frames))
    assert spatial.shape == (B, channels, 256, frames)
    assert head.spatial_channels == channels and global_emb is None


def test_mel_follows_its_frames():
    """Each output frame depends on its own mel frame only (a per-frame map, no time mixing)."""
    head = build("mel")
    mel = torch.randn(1, 80, N)
    changed = mel.clone()
    changed[..., 3] += 1.0
    a, b = head(mel)[0], head(changed)[0]
    diff = (a - b).abs().amax(dim=(0, 1, 2))
    assert diff[3] > 1e-3 and torch.all(diff[[0, 1, 2, 4, 5, 6]] == 0)


# mel_wave ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("hop, channels, frames", [(256, 16, N), (128, 4, 1), (200, 8, 5)])
def test_mel_to_waveform_aligned_features(hop, channels, frames):
    head = build("mel_wave", hop_length=hop, channels=channels)
    spatial, global_emb = head(torch.randn(B, 80, frames))
    assert spatial.shape == (B, channels, frames * hop)
    assert head.spatial_channels == channels and global_emb is None


# notes -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("frames", [1, N, 63])
def test_notes_to_spectrogram_aligned_features(frames):
    head = build("notes")
    roll = (torch.rand(B, 3, 128, frames) > 0.9).float()
    spatial, global_emb = head(roll)
    assert spatial.shape == (B, 3, 256, frames)
    assert head.spatial_channels == 3 and global_emb is None


def test_notes_checks_pitches():
    with pytest.raises(ValueError, match="pitches"):
        build("notes")(torch.zeros(B, 3, 88, N))


def test_notes_age_sinusoids_run_from_each_note_s_start_and_are_zero_where_silent():
    head = build("notes", age_hz=[1.0, 5.0])
    assert head.spatial_channels == 3 + 4
    roll = torch.zeros(1, 4, 128, 10)
    roll[0, 1, 60, 2:8] = 1.0  # sustain
    roll[0, 3, 60, 2:8] = torch.arange(6) * 0.05  # age, 50 ms frames
    with torch.no_grad():
        head.to_bins.weight.copy_(torch.eye(256, 128))  # bin k = pitch k, to read the features
        head.to_bins.bias.zero_()
        spatial, _ = head(roll)
    age = torch.arange(6) * 0.05
    torch.testing.assert_close(spatial[0, 3, 60, 2:8], torch.sin(2 * math.pi * age))
    torch.testing.assert_close(spatial[0, 6, 60, 2:8], torch.cos(2 * math.pi * 5.0 * age))
    assert spatial[0, 3:, :, :2].abs().sum() == 0 and spatial[0, 3:, :, 8:].abs().sum() == 0
    assert spatial[0, 3:, 61].abs().sum() == 0
    with pytest.raises(ValueError, match="at least 4 channels"):  # a roll without its age channel
        head(roll[:, :3])


def test_notes_map_over_the_played_pitches_equals_the_full_pitch_to_bin_map():
    """The head maps only the pitches that play in the batch (for speed); the result is the full map's."""
    torch.manual_seed(0)
    head = build("notes", age_hz=[3.0])
    roll = torch.zeros(2, 4, 128, 30)
    roll[0, 1, 40:44, 5:20] = 1.0
    roll[0, 3, 40:44, 5:20] = torch.rand(4, 15)
    roll[1, 0, 90, 3] = roll[1, 1, 90, 3:9] = 1.0
    sounding, phase = roll[:, 1:2], 2 * math.pi * 3.0 * roll[:, 3:4]
    features = torch.cat([roll[:, :3], sounding * torch.sin(phase), sounding * torch.cos(phase)], dim=1)
    with torch.no_grad():
        expected = head.to_bins(features.transpose(2, 3)).transpose(2, 3)
        torch.testing.assert_close(head(roll)[0], expected)
        silent = head(torch.zeros(1, 4, 128, 5))[0]  # nothing plays: the bias alone
    torch.testing.assert_close(silent, head.to_bins.bias.view(1, 1, -1, 1).expand(1, 5, 256, 5))


# class -------------------------------------------------------------------------------------------
def test_class_labels_to_global_vector():
    head = build("class", num_classes=5, dim=32)
    spatial, global_emb = head(torch.tensor([0, 4, -1]))
    assert spatial is None and global_emb.shape == (3, 32)
    assert head.spatial_channels == 0 and head.global_dim == 32


def test_class_null_token_differs_from_every_class():
    head = build("class", num_classes=5, dim=32)
    _, emb = head(torch.tensor([-1, -1, 0, 1, 2, 3, 4]))
    assert torch.equal(emb[0], emb[1])  # one shared null token
    for row in emb[2:]:
        assert (row - emb[0]).abs().max() > 1e-3
    assert (emb[2] - emb[0]).abs().max() > 1e-3  # in particular, null is not class 0


def test_class_accepts_python_lists():
    head = build("class", num_classes=3, dim=8)
    _, emb = head([2, -1])
    torch.testing.assert_close(emb, head(torch.tensor([2, -1]))[1])


def test_class_names_label_and_zero_start():
    head = build("class", names=["fluidr3", "timgm6mb"], dim=8, zero_init=True)
    assert head.num_classes == 2 and head.labels(["timgm6mb", "sgm", "", "fluidr3"]).tolist() == [1, -1, -1, 0]
    _, emb = head(torch.tensor([0, 1, -1]))
    assert torch.equal(emb, torch.zeros(3, 8))  # added to a trained model, it changes nothing at first
    assert build("class", num_classes=2, dim=8).table.weight.abs().sum() > 0
    with pytest.raises(ValueError, match="num_classes is 3 but 2 names"):
        build("class", num_classes=3, names=["a", "b"])


@pytest.mark.parametrize("label", [5, 100, -2])
def test_class_out_of_range_label_raises(label):
    head = build("class", num_classes=5, dim=8)
    with pytest.raises(ValueError, match="class labels"):
        head(torch.tensor([0, label]))


def test_class_null_is_minus_one():
    head = build("class", num_classes=5, dim=8)
    null = head.null(torch.tensor([3, 0, 4]))
    assert null.dtype == torch.long and null.tolist() == [ClassHead.NULL] * 3


# composite ---------------------------------------------------------------------------------------
NOTES_AND_CLASS = {"notes": {"name": "notes"}, "class": {"name": "class", "args": {"num_classes": 4, "dim": 16}}}


def notes_and_class_cond(frames=N, labels=(1, -1)):
    g = torch.Generator().manual_seed(0)
    return {"notes": (torch.rand(len(labels), 3, 128, frames, generator=g) > 0.9).float(),
            "class": torch.tensor(labels)}


def test_composite_notes_and_class():
    head = build("composite", heads=NOTES_AND_CLASS)
    assert head.spatial_channels == 3 and head.global_dim == 16
    cond = notes_and_class_cond()
    spatial, global_emb = head(cond)
    assert spatial.shape == (B, 3, 256, N) and global_emb.shape == (B, 16)
    torch.testing.assert_close(spatial, head.parts["notes"](cond["notes"])[0])
    torch.testing.assert_close(global_emb, head.parts["class"](cond["class"])[1])


def test_composite_spatial_channels_are_concatenated():
    head = build("composite", heads={"notes": {"name": "notes"}, "mel": {"name": "mel", "args": {"channels": 2}}})
    assert head.spatial_channels == 5 and head.global_dim == 0
    cond = {"notes": torch.rand(B, 3, 128, N), "mel": torch.randn(B, 80, N)}
    spatial, global_emb = head(cond)
    assert spatial.shape == (B, 5, 256, N) and global_emb is None
    torch.testing.assert_close(spatial[:, :3], head.parts["notes"](cond["notes"])[0])
    torch.testing.assert_close(spatial[:, 3:], head.parts["mel"](cond["mel"])[0])


def test_composite_global_vectors_are_summed():
    heads = {"a": {"name": "class", "args": {"num_classes": 3, "dim": 8}},
             "b": {"name": "class", "args": {"num_classes": 2, "dim": 8}}}
    head = build("composite", heads=heads)
    cond = {"a": torch.tensor([0, 2]), "b": torch.tensor([1, -1])}
    _, global_emb = head(cond)
    torch.testing.assert_close(global_emb, head.parts["a"](cond["a"])[1] + head.parts["b"](cond["b"])[1])


def test_composite_refuses_global_vectors_of_different_sizes():
    heads = {"a": {"name": "class", "args": {"num_classes": 3, "dim": 8}},
             "b": {"name": "class", "args": {"num_classes": 3, "dim": 16}}}
    with pytest.raises(ValueError, match="different sizes"):
        build("composite", heads=heads)


def test_composite_null_is_each_parts_null():
    head = build("composite", heads=NOTES_AND_CLASS)
    cond = notes_and_class_cond(labels=(1, 3))
    null = head.null(cond)
    assert set(null) == {"notes", "class"}
    assert torch.equal(null["notes"], torch.zeros_like(cond["notes"]))
    assert null["class"].tolist() == [-1, -1]
    spatial, global_emb = head(null)  # the null condition runs through the head
    null_token = head.parts["class"].table.weight[4]
    torch.testing.assert_close(global_emb, null_token.expand(2, -1))
    assert spatial.shape == (2, 3, 256, N)


# end to end --------------------------------------------------------------------------------------
def composite_model() -> DiffusionModel:
    torch.manual_seed(0)
    config = {
        "representation": {"name": "complex_spec"},
        "backbone": {"name": "bandsplit", "args": {"channels": 32, "blocks": 2}},
        "head": {"name": "composite", "args": {"heads": NOTES_AND_CLASS}},
        "sampling": {"solver": "dpmpp_2m", "steps": 4},
    }
    return DiffusionModel(config).eval()


def test_model_with_composite_head_wires_the_backbone():
    model = composite_model()
    backbone_args = model.config["backbone"]["args"]
    assert backbone_args["cond_channels"] == 3 and backbone_args["global_dim"] == 16
    x = torch.randn(B, 2, 256, N)
    with torch.no_grad():
        out = model.denoiser(x, torch.tensor([0.5, 3.0]), notes_and_class_cond())
    assert out.shape == x.shape and torch.isfinite(out).all()


def test_model_with_composite_head_uses_both_conditions():
    model = composite_model()
    with torch.no_grad():
        for p in model.parameters():  # residual blocks start as the identity: wake them up
            p.add_(torch.randn_like(p) * 0.02)
    x, sigma = torch.randn(B, 2, 256, N), torch.tensor([1.0, 1.0])
    cond = notes_and_class_cond(labels=(1, 2))
    other_class = {**cond, "class": torch.tensor([3, 0])}
    other_notes = {**cond, "notes": 1.0 - cond["notes"]}
    with torch.no_grad():
        out = model.denoiser(x, sigma, cond)
        assert (out - model.denoiser(x, sigma, other_class)).abs().amax(dim=(1, 2, 3)).min() > 1e-5
        assert (out - model.denoiser(x, sigma, other_notes)).abs().amax(dim=(1, 2, 3)).min() > 1e-5


def test_model_with_composite_head_generates():
    model = composite_model()
    cond = notes_and_class_cond(frames=N, labels=(0, -1))
    shape = (B, 2, 256, N)
    calls = []
    out = model.generate(shape, Condition(cond, None, None), steps=2, generator=torch.Generator().manual_seed(0),
                         callback=lambda info: calls.append(info["i"]))
    assert out.shape == shape and torch.isfinite(out).all()
    assert calls == [0, 1]
    null = model.generate(shape, Condition(model.denoiser.head.null(cond), None, None), steps=2)
    assert null.shape == shape and torch.isfinite(null).all()
