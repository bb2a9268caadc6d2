"""SE3Transformer configurations run through the shared model checks of ModelTestMixin."""

from __future__ import annotations

from model_mixin import ModelTestMixin


class TestDefaultDegree1(ModelTestMixin):
    model_kwargs = dict(num_layers=2, max_degree=1, channels=8, num_heads=2, radial_hidden=16,
                        num_radial=8, head_hidden=16)  # fmt: skip


class TestDegree2Attentive(ModelTestMixin):
    model_kwargs = dict(num_layers=2, max_degree=2, channels=8, num_heads=2, radial_hidden=16,
                        num_radial=8, head_hidden=16, self_interaction="attentive",
                        si_hidden=16, pooling="sum")  # fmt: skip


class TestDegree2FullRadial(ModelTestMixin):
    model_kwargs = dict(num_layers=3, max_degree=2, channels=4, num_heads=2, radial_hidden=8,
                        num_radial=8, head_hidden=8, radial_mode="full",
                        pooling="max")  # fmt: skip


class TestDegree0(ModelTestMixin):
    model_kwargs = dict(num_layers=2, max_degree=0, channels=8, num_heads=2, radial_hidden=16,
                        num_radial=8, head_hidden=16)  # fmt: skip
