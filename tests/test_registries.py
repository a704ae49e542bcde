"""Every layer type has a rule in every concern's registry, so a missing rule fails here, not in a user's loop.

Each concern keeps one ``functools.singledispatch`` registry keyed by layer type. A registered rule may be an
explicit refusal (the α x ρ sweep covers MobileNetV1's types only; the reference runs the types it has kernels
for); what is not allowed is no rule at all, which would fall through to the registry's generic error at a
user's runtime. Adding a layer type means adding one rule to each registry listed in :data:`REGISTRIES` (the
"Adding a layer type" in docs/architecture.md names the files).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from costmodel.counting import engine, kinds, memory, sweeps
from costmodel.latency import model as latency_model
from costmodel.reference import executor, onnx_export, plain, tflite_graph, weights
from costmodel.report import tables as report_tables
from costmodel.spec import layers, serialize

#: (concern, where the rule lives, the registry)
REGISTRIES = [
    ("shape", "costmodel.spec.layers.output_shape", layers.output_shape),
    ("weight shape", "costmodel.spec.layers.weight_shape", layers.weight_shape),
    ("Mult-Adds and weights", "costmodel.counting.engine.weights_cost", engine.weights_cost),
    ("convention extras", "costmodel.counting.engine.extra_ops", engine.extra_ops),
    ("Table 2 kind", "costmodel.counting.kinds.layer_kind", kinds.layer_kind),
    ("stored weights", "costmodel.counting.memory.weight_elements", memory.weight_elements),
    ("memory", "costmodel.counting.memory.memory_rule", memory.memory_rule),
    ("sweep term", "costmodel.counting.sweeps.sweep_term", sweeps.sweep_term),
    ("Table 1 type/stride", "costmodel.report.tables.type_stride", report_tables.type_stride),
    ("Table 1 filter shape", "costmodel.report.tables._filter_shape", report_tables._filter_shape),
    ("formula", "costmodel.report.tables._formula", report_tables._formula),
    ("executor weights", "costmodel.reference.weights.weight_arrays", weights.weight_arrays),
    ("plain kernel", "costmodel.reference.plain.plain_kernel", plain.plain_kernel),
    ("executor kernel", "costmodel.reference.executor.step_for", executor.step_for),
    ("ONNX export", "costmodel.reference.onnx_export.export_layer", onnx_export.export_layer),
    ("TFLite lowering", "costmodel.reference.tflite_graph.lower_layer", tflite_graph.lower_layer),
    ("latency kind", "costmodel.latency.model.latency_kind", latency_model.latency_kind),
]


def missing_rules(cls: type) -> list[str]:
    """The concerns with no rule for ``cls`` (its registry would fall back to the generic ``object`` rule)."""
    missing = [
        f"{concern} ({where})" for concern, where, registry in REGISTRIES
        if registry.dispatch(cls) is registry.dispatch(object)
    ]  # fmt: skip
    if cls not in serialize.LAYER_TYPES.values():
        missing.append("JSON name (costmodel.spec.serialize.LAYER_TYPES)")
    return missing


@pytest.mark.parametrize("cls", layers.LAYER_TYPES, ids=lambda c: c.__name__)
def test_every_layer_type_has_every_rule(cls):
    missing = missing_rules(cls)
    assert not missing, f"{cls.__name__} has no rule for: " + ", ".join(missing)


def test_a_layer_type_with_no_rules_is_named_with_every_missing_rule():
    """The check can fail: a throwaway type registered nowhere is reported, with every concern named."""

    @dataclass(frozen=True)
    class Throwaway:
        name: str

    missing = missing_rules(Throwaway)
    assert len(missing) == len(REGISTRIES) + 1
    assert "executor kernel (costmodel.reference.executor.step_for)" in missing
    assert "latency kind (costmodel.latency.model.latency_kind)" in missing


def test_the_list_of_layer_types_is_complete():
    """Every layer type listed in the spec, and the spec's list complete: the Layer union names the same types."""
    assert set(layers.LAYER_TYPES) == set(layers.Layer.__args__)  # type: ignore[attr-defined]
    assert set(serialize.LAYER_TYPES.values()) == set(layers.LAYER_TYPES)
