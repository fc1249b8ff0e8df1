"""Networks: output shapes, ImageNet init, official PIPNet checkpoint layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pipnet_edge import ModelSpec
from pipnet_edge.errors import ModelLoadError
from pipnet_edge.models import create_model, list_backbones, load_imagenet_backbone, load_official_checkpoint
from pipnet_edge.models.checkpoint import load_model, read_spec, save_model


def _spec(backbone: str, size: int = 64, n: int = 68, num_nb: int = 10) -> ModelSpec:
    mf = np.random.default_rng(0).uniform(0.1, 0.9, size=(n, 2))
    scheme = "300w-68" if n == 68 else "cofw-29"
    return ModelSpec.create(scheme, mf, backbone=backbone, input_size=size, num_nb=num_nb)


@pytest.mark.parametrize("backbone", ["mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small", "resnet18"])
def test_output_shapes(backbone):
    spec = _spec(backbone, size=64)
    model = create_model(spec).eval()
    with torch.no_grad():
        outs = model(torch.randn(2, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(2, 68, 2, 2)] * 3 + [(2, 680, 2, 2)] * 2
    assert set(list_backbones()) >= {"mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small", "resnet18"}


def test_backbone_channels():
    assert create_model(_spec("mobilenet_v2")).backbone.out_channels == 1280
    assert create_model(_spec("mobilenet_v3_large")).backbone.out_channels == 960
    assert create_model(_spec("mobilenet_v3_small")).backbone.out_channels == 576
    assert create_model(_spec("resnet18")).backbone.out_channels == 512


def test_imagenet_init_maps_all_backbone_tensors(imagenet_mbv2):
    model = create_model(_spec("mobilenet_v2"))
    loaded, total = load_imagenet_backbone(model, imagenet_mbv2)
    assert (loaded, total) == (312, 314)
    ref = torch.load(imagenet_mbv2, weights_only=True)
    assert torch.equal(model.backbone.features[5].conv[1][0].weight, ref["features.5.conv.1.0.weight"])


def _official_resnet18_state(n=68, nb=10, seed=0) -> dict[str, torch.Tensor]:
    """A state dict in jhb86253817/PIPNet's Pip_resnet18 key layout, random values."""
    g = torch.Generator().manual_seed(seed)
    sd: dict[str, torch.Tensor] = {}

    def conv(name, o, i, k):
        sd[f"{name}.weight"] = torch.randn(o, i, k, k, generator=g) * (2.0 / (i * k * k)) ** 0.5

    def bn(name, c):
        sd[f"{name}.weight"] = 1 + 0.1 * torch.randn(c, generator=g)
        sd[f"{name}.bias"] = 0.1 * torch.randn(c, generator=g)
        sd[f"{name}.running_mean"] = 0.1 * torch.randn(c, generator=g)
        sd[f"{name}.running_var"] = 1 + 0.1 * torch.rand(c, generator=g)
        sd[f"{name}.num_batches_tracked"] = torch.tensor(100)

    conv("conv1", 64, 3, 7)
    bn("bn1", 64)
    inp = 64
    for li, c in enumerate([64, 128, 256, 512], 1):
        for bi in range(2):
            p = f"layer{li}.{bi}"
            stride_in = inp if bi == 0 else c
            conv(f"{p}.conv1", c, stride_in, 3)
            bn(f"{p}.bn1", c)
            conv(f"{p}.conv2", c, c, 3)
            bn(f"{p}.bn2", c)
            if bi == 0 and (li > 1):
                conv(f"{p}.downsample.0", c, stride_in, 1)
                bn(f"{p}.downsample.1", c)
        inp = c
    for head, ch in (("cls_layer", n), ("x_layer", n), ("y_layer", n), ("nb_x_layer", n * nb), ("nb_y_layer", n * nb)):
        sd[f"{head}.weight"] = torch.randn(ch, 512, 1, 1, generator=g) * 0.01
        sd[f"{head}.bias"] = torch.randn(ch, generator=g) * 0.01
    return sd


def _official_resnet18_forward(sd, x):
    """The official Pip_resnet18.forward, written with functional ops over the official keys."""

    def bn(t, p):
        return F.batch_norm(t, sd[f"{p}.running_mean"], sd[f"{p}.running_var"], sd[f"{p}.weight"], sd[f"{p}.bias"], False)

    x = F.relu(bn(F.conv2d(x, sd["conv1.weight"], stride=2, padding=3), "bn1"))
    x = F.max_pool2d(x, 3, 2, 1)
    for li in range(1, 5):
        for bi in range(2):
            p = f"layer{li}.{bi}"
            stride = 2 if (bi == 0 and li > 1) else 1
            out = F.relu(bn(F.conv2d(x, sd[f"{p}.conv1.weight"], stride=stride, padding=1), f"{p}.bn1"))
            out = bn(F.conv2d(out, sd[f"{p}.conv2.weight"], padding=1), f"{p}.bn2")
            idt = bn(F.conv2d(x, sd[f"{p}.downsample.0.weight"], stride=stride), f"{p}.downsample.1") if f"{p}.downsample.0.weight" in sd else x
            x = F.relu(out + idt)
    return tuple(F.conv2d(x, sd[f"{h}.weight"], sd[f"{h}.bias"]) for h in ("cls_layer", "x_layer", "y_layer", "nb_x_layer", "nb_y_layer"))


def test_official_resnet18_checkpoint_gives_identical_outputs(tmp_path):
    sd = _official_resnet18_state()
    ckpt = tmp_path / "pip_32_16_60_r18_l2_l1_10_1_nb10.pth"
    torch.save(sd, ckpt)
    mf = np.random.default_rng(1).uniform(0.1, 0.9, size=(68, 2))
    (tmp_path / "meanface.txt").write_text(" ".join(f"{v:.6f}" for v in mf.ravel()))
    model = load_official_checkpoint(ckpt, tmp_path / "meanface.txt", backbone="resnet18").eval()
    x = torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        ours = model(x)
        ref = _official_resnet18_forward(sd, x)
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    # neighbours recomputed from the mean face as the official get_meanface does
    d = ((mf[:, None] - mf[None]) ** 2).sum(-1)
    official_nb = np.argsort(d, axis=1)[:, 1:11]
    assert model.spec.neighbor_array.tolist() == official_nb.tolist()


def test_official_mobilenet_v2_layout(imagenet_mbv2):
    """An official Pip_mbnetv2 checkpoint = torchvision features.* + heads at top level."""
    sd = {k: v for k, v in torch.load(imagenet_mbv2, weights_only=True).items() if k.startswith("features.")}
    g = torch.Generator().manual_seed(0)
    for head, ch in (("cls_layer", 68), ("x_layer", 68), ("y_layer", 68), ("nb_x_layer", 680), ("nb_y_layer", 680)):
        sd[f"{head}.weight"] = torch.randn(ch, 1280, 1, 1, generator=g) * 0.01
        sd[f"{head}.bias"] = torch.zeros(ch)
    sd["classifier.1.weight"] = torch.zeros(1000, 1280)  # extra tensors are ignored
    mf = np.random.default_rng(1).uniform(0.1, 0.9, size=(68, 2))
    model = load_official_checkpoint(sd, mf, backbone="mobilenet_v2").eval()
    assert torch.equal(model.backbone.features[18][0].weight, sd["features.18.0.weight"])
    assert torch.equal(model.nb_y_layer.weight, sd["nb_y_layer.weight"])


def test_official_checkpoint_with_wrong_backbone_is_rejected():
    sd = _official_resnet18_state()
    with pytest.raises(ModelLoadError, match="lacks"):
        load_official_checkpoint(sd, np.random.default_rng(1).uniform(size=(68, 2)), backbone="mobilenet_v2")
    sd["cls_layer.weight"] = torch.zeros(29, 512, 1, 1)
    with pytest.raises(ModelLoadError, match="shape mismatch"):
        load_official_checkpoint(sd, np.random.default_rng(1).uniform(size=(68, 2)), backbone="resnet18")


def test_safetensors_round_trip_carries_the_spec(tmp_path):
    model = create_model(_spec("mobilenet_v3_small")).eval()
    path = save_model(model, tmp_path / "m.safetensors", dtype=torch.float16)
    assert read_spec(path) == model.spec
    again = load_model(path)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(model(x), again(x)):
            torch.testing.assert_close(a, b, rtol=2e-2, atol=2e-3)  # fp16 storage


def test_corrupt_model_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x00\x01garbage")
    with pytest.raises(ModelLoadError, match="broken.safetensors"):
        load_model(bad)
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(tmp_path / "missing.safetensors")


def test_lite_backbone_cuts_mobilenet_v2_at_stride_16(imagenet_mbv2):
    spec = ModelSpec.create("300w-68", np.random.default_rng(0).uniform(0.1, 0.9, (68, 2)), backbone="mobilenet_v2_s16_c128",
                            input_size=128, net_stride=16)
    model = create_model(spec).eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 128, 128))
    assert outs[0].shape == (1, 68, 8, 8) and model.backbone.out_channels == 128
    loaded, _ = load_imagenet_backbone(model, imagenet_mbv2)
    ref = torch.load(imagenet_mbv2, weights_only=True)
    # features.0-13 are torchvision's; the new 1x1 projection (features.14) is not
    assert loaded == sum(1 for k in ref if k.startswith("features.") and int(k.split(".")[1]) <= 13)
    assert torch.equal(model.backbone.features[13].conv[2].weight, ref["features.13.conv.2.weight"])


def test_spec_stride_must_match_the_backbone():
    from pipnet_edge.errors import SpecError

    spec = ModelSpec.create("300w-68", np.random.default_rng(0).uniform(0.1, 0.9, (68, 2)), backbone="mobilenet_v2_s16_c128",
                            input_size=128, net_stride=32)
    with pytest.raises(SpecError, match="stride 16 but the spec says net_stride 32"):
        create_model(spec)


@pytest.mark.parametrize("backbone, size, last_stage, channels", [
    ("mobilenet_v2_s16_c256", 112, 13, 256),  # cut after the 96-channel stage, 7x7 map
    ("mobilenet_v2_s16_c512", 112, 13, 512),  # the lite model's
    ("mobilenet_v2_s16_c768", 112, 13, 768),
    ("mobilenet_v2_s16_160d_c256", 96, 16, 256),  # the 160-channel stage kept at stride 16, dilated: 6x6 map
    ("mobilenet_v2_s16_160d_c512", 112, 16, 512),
])
def test_stride_16_backbones_load_imagenet_through_their_last_stage(imagenet_mbv2, backbone, size, last_stage, channels):
    spec = ModelSpec.create("300w-68", np.random.default_rng(0).uniform(0.1, 0.9, (68, 2)), backbone=backbone,
                            input_size=size, net_stride=16)
    model = create_model(spec).eval()
    with torch.no_grad():
        outs = model(torch.randn(2, 3, size, size))
    assert outs[0].shape == (2, 68, size // 16, size // 16) and model.backbone.out_channels == channels
    loaded, _ = load_imagenet_backbone(model, imagenet_mbv2)
    ref = torch.load(imagenet_mbv2, weights_only=True)
    assert loaded == sum(1 for k in ref if k.startswith("features.") and int(k.split(".")[1]) <= last_stage)
    dw = model.backbone.features[last_stage].conv[1][0]  # the depthwise 3x3 of the last ImageNet block
    assert dw.dilation == ((2, 2) if last_stage > 13 else (1, 1))


def test_mobilenet_v2_rejects_a_stage_count_it_does_not_have():
    from pipnet_edge.models.mobilenetv2 import MobileNetV2

    with pytest.raises(ValueError, match="stages must be 1-7"):
        MobileNetV2(out_stride=16, stages=8)
    short = MobileNetV2(out_stride=32, stages=5)  # stops after the 96-channel stage: stride 16, whatever out_stride allows
    assert short.out_stride == 16 and short(torch.zeros(1, 3, 64, 64)).shape[-1] == 4
