"""Our protobuf declarations against TensorBoard's (the oracle), on the wire and in code.

* Every field and enum value we declare exists in TensorBoard's descriptor with the same
  number, type, label, oneof and (package-mapped) type name, and an explicit list of
  must-have fields per message catches accidental omissions.
* Bytes written with our classes parse with tensorboard's classes into the same content, and
  the other way round.
* The committed generated code is exactly what ``python proto/generate.py`` writes.
* The generated code also works under the pure-Python protobuf backend.
"""

from __future__ import annotations

import importlib
import os
import pathlib
import pickle
import subprocess
import sys
import textwrap

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, text_format
from google.protobuf import struct_pb2

from eventwriter import protos
from eventwriter._proto import (
    attr_value_pb2,
    event_pb2,
    graph_pb2,
    histogram_pb2,
    hparams_pb2,
    layout_pb2,
    mesh_pb2,
    node_def_pb2,
    plugin_data_pb2,
    projector_config_pb2,
    run_metadata_pb2,
    step_stats_pb2,
    summary_pb2,
    tensor_pb2,
    tensor_shape_pb2,
    types_pb2,
    versions_pb2,
)

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
GENERATED_DIR = REPO_ROOT / "eventwriter" / "_proto"

OUR_MODULES = [
    attr_value_pb2,
    event_pb2,
    graph_pb2,
    histogram_pb2,
    hparams_pb2,
    layout_pb2,
    mesh_pb2,
    node_def_pb2,
    plugin_data_pb2,
    projector_config_pb2,
    run_metadata_pb2,
    step_stats_pb2,
    summary_pb2,
    tensor_pb2,
    tensor_shape_pb2,
    types_pb2,
    versions_pb2,
]

# Importing these registers TensorBoard's descriptors in the default pool.
TB_MODULES = [
    "tensorboard.compat.proto.event_pb2",
    "tensorboard.compat.proto.summary_pb2",
    "tensorboard.compat.proto.histogram_pb2",
    "tensorboard.compat.proto.tensor_pb2",
    "tensorboard.compat.proto.tensor_shape_pb2",
    "tensorboard.compat.proto.types_pb2",
    "tensorboard.compat.proto.graph_pb2",
    "tensorboard.compat.proto.node_def_pb2",
    "tensorboard.compat.proto.attr_value_pb2",
    "tensorboard.compat.proto.versions_pb2",
    "tensorboard.compat.proto.config_pb2",
    "tensorboard.compat.proto.step_stats_pb2",
    "tensorboard.compat.proto.tensor_description_pb2",
    "tensorboard.compat.proto.allocation_description_pb2",
    "tensorboard.plugins.scalar.plugin_data_pb2",
    "tensorboard.plugins.image.plugin_data_pb2",
    "tensorboard.plugins.audio.plugin_data_pb2",
    "tensorboard.plugins.histogram.plugin_data_pb2",
    "tensorboard.plugins.text.plugin_data_pb2",
    "tensorboard.plugins.pr_curve.plugin_data_pb2",
    "tensorboard.plugins.mesh.plugin_data_pb2",
    "tensorboard.plugins.custom_scalar.layout_pb2",
    "tensorboard.plugins.hparams.api_pb2",
    "tensorboard.plugins.hparams.plugin_data_pb2",
    "tensorboard.plugins.projector.projector_config_pb2",
]

# Fields each message must declare: removing one from a .proto file fails the test.
# Every message we declare (nested and map entries included) must be listed here.
MUST_HAVE_FIELDS = {
    "Event": "wall_time step file_version graph_def summary log_message session_log "
    "tagged_run_metadata meta_graph_def source_metadata",
    "SourceMetadata": "writer",
    "LogMessage": "level message",
    "SessionLog": "status checkpoint_path msg",
    "TaggedRunMetadata": "tag run_metadata",
    "Summary": "value",
    "Summary.Value": "node_name tag metadata simple_value obsolete_old_style_histogram image histo audio tensor",
    "Summary.Image": "height width colorspace encoded_image_string",
    "Summary.Audio": "sample_rate num_channels length_frames encoded_audio_string content_type",
    "SummaryMetadata": "plugin_data display_name summary_description data_class",
    "SummaryMetadata.PluginData": "plugin_name content",
    "HistogramProto": "min max num sum sum_squares bucket_limit bucket",
    "TensorProto": "dtype tensor_shape version_number tensor_content half_val float_val double_val int_val "
    "string_val scomplex_val int64_val bool_val dcomplex_val uint32_val uint64_val",
    "TensorShapeProto": "dim unknown_rank",
    "TensorShapeProto.Dim": "size name",
    "GraphDef": "node versions",
    "NodeDef": "name op input device attr",
    "NodeDef.AttrEntry": "key value",
    "NodeDef.ExperimentalDebugInfo": "original_node_names original_func_names",
    "AttrValue": "list s i f b type shape tensor placeholder func",
    "AttrValue.ListValue": "s i f b type shape tensor func",
    "NameAttrList": "name attr",
    "NameAttrList.AttrEntry": "key value",
    "VersionDef": "producer min_consumer bad_consumers",
    "RunMetadata": "step_stats",
    "RunMetadata.FunctionGraphs": "partition_graphs pre_optimization_graph post_optimization_graph",
    "StepStats": "dev_stats",
    "DeviceStepStats": "device node_stats thread_names",
    "DeviceStepStats.ThreadNamesEntry": "key value",
    "NodeExecStats": "node_name all_start_micros op_start_rel_micros op_end_rel_micros all_end_rel_micros "
    "memory output timeline_label scheduled_micros thread_id memory_stats",
    "AllocatorMemoryUsed": "allocator_name total_bytes peak_bytes live_bytes",
    "AllocationRecord": "alloc_micros alloc_bytes",
    "AllocationDescription": "requested_bytes allocated_bytes allocator_name",
    "TensorDescription": "dtype shape",
    "NodeOutput": "slot tensor_description",
    "MemoryStats": "temp_memory_size persistent_memory_size",
    "ScalarPluginData": "version",
    "ImagePluginData": "version converted_to_tensor",
    "AudioPluginData": "version encoding converted_to_tensor",
    "HistogramPluginData": "version",
    "TextPluginData": "version",
    "PrCurvePluginData": "version num_thresholds",
    "mesh.MeshPluginData": "version name content_type json_config shape components",
    "Layout": "version category",
    "Category": "title chart closed",
    "Chart": "title multiline margin",
    "MultilineChartContent": "tag",
    "MarginChartContent": "series",
    "MarginChartContent.Series": "value lower upper",
    "hparams.Experiment": "name description user time_created_secs hparam_infos metric_infos",
    "hparams.HParamInfo": "name display_name description type domain_discrete domain_interval differs",
    "hparams.Interval": "min_value max_value",
    "hparams.MetricName": "group tag",
    "hparams.MetricInfo": "name display_name description dataset_type",
    "hparams.HParamsPluginData": "version experiment session_start_info session_end_info",
    "hparams.SessionStartInfo": "hparams model_uri monitor_url group_name start_time_secs",
    "hparams.SessionStartInfo.HparamsEntry": "key value",
    "hparams.SessionEndInfo": "status end_time_secs",
    "projector.ProjectorConfig": "model_checkpoint_path embeddings model_checkpoint_dir",
    "projector.EmbeddingInfo": "tensor_name metadata_path bookmarks_path tensor_shape sprite tensor_path",
    "projector.SpriteMetadata": "image_path single_image_dim",
}

# Enum values each enum must declare (name=number), keyed like MUST_HAVE_FIELDS.
MUST_HAVE_ENUM_VALUES = {
    "DataType": "DT_INVALID=0 DT_FLOAT=1 DT_DOUBLE=2 DT_INT32=3 DT_UINT8=4 DT_INT16=5 DT_INT8=6 DT_STRING=7 "
    "DT_COMPLEX64=8 DT_INT64=9 DT_BOOL=10 DT_BFLOAT16=14 DT_UINT16=17 DT_COMPLEX128=18 DT_HALF=19 "
    "DT_UINT32=22 DT_UINT64=23 DT_FLOAT_REF=101",
    "DataClass": "DATA_CLASS_UNKNOWN=0 DATA_CLASS_SCALAR=1 DATA_CLASS_TENSOR=2 DATA_CLASS_BLOB_SEQUENCE=3",
    "LogMessage.Level": "UNKNOWN=0 DEBUGGING=10 INFO=20 WARN=30 ERROR=40 FATAL=50",
    "SessionLog.SessionStatus": "STATUS_UNSPECIFIED=0 START=1 STOP=2 CHECKPOINT=3",
    "AudioPluginData.Encoding": "UNKNOWN=0 WAV=11",
    "mesh.MeshPluginData.ContentType": "UNDEFINED=0 VERTEX=1 FACE=2 COLOR=3",
    "hparams.DataType": "DATA_TYPE_UNSET=0 DATA_TYPE_STRING=1 DATA_TYPE_BOOL=2 DATA_TYPE_FLOAT64=3",
    "hparams.DatasetType": "DATASET_UNKNOWN=0 DATASET_TRAINING=1 DATASET_VALIDATION=2",
    "hparams.Status": "STATUS_UNKNOWN=0 STATUS_SUCCESS=1 STATUS_FAILURE=2 STATUS_RUNNING=3",
}

_PACKABLE = {
    descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
    descriptor_pb2.FieldDescriptorProto.TYPE_BYTES,
    descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
    descriptor_pb2.FieldDescriptorProto.TYPE_GROUP,
}


@pytest.fixture(scope="module")
def tb_pool() -> descriptor_pool.DescriptorPool:
    pytest.importorskip("tensorboard")
    for name in TB_MODULES:
        importlib.import_module(name)
    return descriptor_pool.Default()


def _our_messages():
    """(relative name, DescriptorProto) for every message we declare, nested ones included."""

    def walk(prefix, messages):
        for message in messages:
            name = prefix + message.name
            yield name, message
            yield from walk(name + ".", message.nested_type)

    for module in OUR_MODULES:
        file_proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(file_proto)
        prefix = file_proto.package[len("eventwriter") :].lstrip(".")
        yield from walk(prefix + "." if prefix else "", file_proto.message_type)


def _our_enums():
    """(relative name, EnumDescriptorProto) for every enum we declare, nested ones included."""
    for module in OUR_MODULES:
        file_proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(file_proto)
        prefix = file_proto.package[len("eventwriter") :].lstrip(".")
        prefix = prefix + "." if prefix else ""
        for enum in file_proto.enum_type:
            yield prefix + enum.name, enum
    for name, message in _our_messages():
        for enum in message.enum_type:
            yield f"{name}.{enum.name}", enum


def _tb_proto(pool, relative_name, kind):
    descriptor = (pool.FindMessageTypeByName if kind == "message" else pool.FindEnumTypeByName)(
        "tensorboard." + relative_name
    )
    proto = descriptor_pb2.DescriptorProto() if kind == "message" else descriptor_pb2.EnumDescriptorProto()
    descriptor.CopyToProto(proto)
    return proto


def _field_signature(field, message):
    """What must agree between our field and TensorBoard's."""
    type_name = field.type_name
    for ours, theirs in ((".eventwriter.", ".tensorboard."),):
        if type_name.startswith(ours):
            type_name = theirs + type_name[len(ours) :]
    repeated = field.label == descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
    if field.options.HasField("packed"):
        packed = field.options.packed
    else:  # proto3: repeated scalar numbers are packed by default
        packed = repeated and field.type not in _PACKABLE
    oneof = message.oneof_decl[field.oneof_index].name if field.HasField("oneof_index") else None
    return {
        "number": field.number,
        "type": descriptor_pb2.FieldDescriptorProto.Type.Name(field.type),
        "label": descriptor_pb2.FieldDescriptorProto.Label.Name(field.label),
        "type_name": type_name,
        "packed": packed,
        "oneof": oneof,
        "proto3_optional": field.proto3_optional,
    }


def test_files_use_our_packages_and_proto3():
    packages = {module.DESCRIPTOR.package for module in OUR_MODULES}
    assert packages == {"eventwriter", "eventwriter.hparams", "eventwriter.mesh", "eventwriter.projector"}
    for module in OUR_MODULES:
        assert module.DESCRIPTOR.name == f"proto/{module.__name__.split('.')[-1][: -len('_pb2')]}.proto"
        file_proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(file_proto)
        assert file_proto.syntax == "proto3"


def test_every_declared_message_is_in_the_must_have_list():
    assert sorted(name for name, _ in _our_messages()) == sorted(MUST_HAVE_FIELDS)


@pytest.mark.parametrize("name", sorted(MUST_HAVE_FIELDS))
def test_fields_match_tensorboard(tb_pool, name):
    ours = dict(_our_messages())[name]
    theirs = _tb_proto(tb_pool, name, "message")
    assert ours.options.map_entry == theirs.options.map_entry
    their_fields = {field.name: field for field in theirs.field}
    declared = {field.name for field in ours.field}
    assert set(MUST_HAVE_FIELDS[name].split()) <= declared
    for field in ours.field:
        assert field.name in their_fields, f"{name}.{field.name} is not a TensorBoard field"
        assert _field_signature(field, ours) == _field_signature(their_fields[field.name], theirs), (
            f"{name}.{field.name}"
        )


def test_every_declared_enum_is_in_the_must_have_list():
    assert sorted(name for name, _ in _our_enums()) == sorted(MUST_HAVE_ENUM_VALUES)


@pytest.mark.parametrize("name", sorted(MUST_HAVE_ENUM_VALUES))
def test_enum_values_match_tensorboard(tb_pool, name):
    ours = {value.name: value.number for value in dict(_our_enums())[name].value}
    theirs = {value.name: value.number for value in _tb_proto(tb_pool, name, "enum").value}
    must_have = dict(pair.split("=") for pair in MUST_HAVE_ENUM_VALUES[name].split())
    must_have = {key: int(number) for key, number in must_have.items()}
    assert must_have.items() <= ours.items()
    assert must_have.items() <= theirs.items()
    # Names known to both have the same number, and no number means different things. Values
    # only one side knows are allowed: DataType grows between TensorBoard releases.
    for value_name, number in ours.items():
        assert theirs.get(value_name, number) == number, f"{name}.{value_name}"
    by_number = {number: value_name for value_name, number in ours.items()}
    for value_name, number in theirs.items():
        assert by_number.get(number, value_name) == value_name, f"{name}: {value_name}={number}"


def test_protos_exports():
    expected_constants = {
        "DT_FLOAT": 1,
        "DT_DOUBLE": 2,
        "DT_INT32": 3,
        "DT_UINT8": 4,
        "DT_INT16": 5,
        "DT_INT8": 6,
        "DT_STRING": 7,
        "DT_COMPLEX64": 8,
        "DT_INT64": 9,
        "DT_BOOL": 10,
        "DT_BFLOAT16": 14,
        "DT_UINT16": 17,
        "DT_COMPLEX128": 18,
        "DT_HALF": 19,
        "DT_UINT32": 22,
        "DT_UINT64": 23,
        "DATA_CLASS_UNKNOWN": 0,
        "DATA_CLASS_SCALAR": 1,
        "DATA_CLASS_TENSOR": 2,
        "DATA_CLASS_BLOB_SEQUENCE": 3,
        "AUDIO_ENCODING_WAV": 11,
        "MESH_VERTEX": 1,
        "MESH_FACE": 2,
        "MESH_COLOR": 3,
        "HPARAM_TYPE_STRING": 1,
        "HPARAM_TYPE_BOOL": 2,
        "HPARAM_TYPE_FLOAT64": 3,
        "STATUS_SUCCESS": 1,
        "SESSION_LOG_START": 1,
    }
    messages = (
        "Event SourceMetadata SessionLog LogMessage TaggedRunMetadata Summary SummaryMetadata HistogramProto "
        "TensorProto TensorShapeProto GraphDef NodeDef AttrValue NameAttrList VersionDef RunMetadata StepStats "
        "DeviceStepStats NodeExecStats ScalarPluginData ImagePluginData AudioPluginData HistogramPluginData "
        "TextPluginData PrCurvePluginData MeshPluginData Layout Category Chart MultilineChartContent "
        "MarginChartContent HParamsPluginData Experiment HParamInfo MetricInfo MetricName SessionStartInfo "
        "SessionEndInfo ProjectorConfig EmbeddingInfo SpriteMetadata"
    ).split()
    assert sorted(protos.__all__) == sorted(messages + list(expected_constants))
    for name, number in expected_constants.items():
        assert getattr(protos, name) == number, name
    for name in messages:
        assert getattr(protos, name).DESCRIPTOR.name == name
    for parent, child in [
        ("Summary", "Value"),
        ("Summary", "Image"),
        ("Summary", "Audio"),
        ("SummaryMetadata", "PluginData"),
        ("TensorShapeProto", "Dim"),
        ("AttrValue", "ListValue"),
        ("MarginChartContent", "Series"),
    ]:
        nested = getattr(getattr(protos, parent), child)
        assert nested.DESCRIPTOR.full_name.endswith(f"{parent}.{child}")
    assert protos.DT_FLOAT == types_pb2.DataType.Value("DT_FLOAT")


# ---------------------------------------------------------------------------------------------
# Wire compatibility with tensorboard's classes


def _sample_messages():
    """(our message, dotted name of tensorboard's class) pairs covering every kind we write."""
    p = protos
    tensor = p.TensorProto(
        dtype=p.DT_FLOAT,
        tensor_shape=p.TensorShapeProto(dim=[p.TensorShapeProto.Dim(size=2), p.TensorShapeProto.Dim(size=3)]),
        tensor_content=bytes(range(24)),
    )
    metadata = p.SummaryMetadata(
        plugin_data=p.SummaryMetadata.PluginData(
            plugin_name="pr_curves", content=p.PrCurvePluginData(num_thresholds=5).SerializeToString()
        ),
        display_name="pr",
        summary_description="desc",
        data_class=p.DATA_CLASS_TENSOR,
    )
    summary = p.Summary(
        value=[
            p.Summary.Value(tag="loss", simple_value=0.9),
            p.Summary.Value(tag="zero", simple_value=0.0),  # oneof member: written even at 0
            p.Summary.Value(tag="pr", tensor=tensor, metadata=metadata),
            p.Summary.Value(
                tag="img",
                image=p.Summary.Image(height=2, width=3, colorspace=4, encoded_image_string=b"\x89PNG"),
            ),
            p.Summary.Value(
                tag="snd",
                audio=p.Summary.Audio(
                    sample_rate=8000.0,
                    num_channels=1,
                    length_frames=4,
                    encoded_audio_string=b"RIFF",
                    content_type="audio/wav",
                ),
            ),
            p.Summary.Value(
                tag="h",
                histo=p.HistogramProto(
                    min=-1, max=2, num=3, sum=1, sum_squares=6, bucket_limit=[0, 1, 2], bucket=[1, 0, 2]
                ),
            ),
            p.Summary.Value(
                tag="typed",
                tensor=p.TensorProto(
                    dtype=p.DT_HALF, half_val=[0x3C00], int_val=[-5], int64_val=[2**40], bool_val=[True],
                    string_val=[b"s"], double_val=[0.5], scomplex_val=[1, 2], dcomplex_val=[3, 4],
                    uint32_val=[2**32 - 1], uint64_val=[2**64 - 1], version_number=1,
                ),
            ),
        ]
    )
    node = p.NodeDef(name="conv", op="Conv2d", input=["x", "^ctrl"], device="/cpu:0")
    node.attr["shape"].shape.dim.add(size=4)
    node.attr["list"].list.i.extend([1, 2])
    node.attr["list"].list.type.extend([p.DT_FLOAT])
    node.attr["dtype"].type = p.DT_INT64
    node.attr["s"].s = b"text"
    node.attr["f"].f = 0.5
    node.attr["func"].func.name = "fn"
    node.attr["func"].func.attr["x"].b = True
    graph = p.GraphDef(node=[node], versions=p.VersionDef(producer=22, min_consumer=1, bad_consumers=[3]))
    device = p.DeviceStepStats(device="/device:CPU:0")
    device.thread_names[7] = "main"
    stats = device.node_stats.add(node_name="conv", all_start_micros=10, all_end_rel_micros=5, thread_id=7)
    stats.memory.add(allocator_name="cpu", total_bytes=64, peak_bytes=64)
    stats.output.add(slot=0).tensor_description.dtype = p.DT_FLOAT
    run_metadata = p.RunMetadata(step_stats=p.StepStats(dev_stats=[device]), partition_graphs=[graph])
    start = p.SessionStartInfo(group_name="g", start_time_secs=3.5)
    start.hparams["lr"].number_value = 0.1
    start.hparams["opt"].string_value = "adam"
    start.hparams["flag"].bool_value = True
    experiment = p.Experiment(
        hparam_infos=[
            p.HParamInfo(
                name="opt",
                type=p.HPARAM_TYPE_STRING,
                domain_discrete=struct_pb2.ListValue(values=[struct_pb2.Value(string_value="adam")]),
            ),
            p.HParamInfo(name="lr", type=p.HPARAM_TYPE_FLOAT64, domain_interval=hparams_pb2.Interval(max_value=1)),
        ],
        metric_infos=[p.MetricInfo(name=p.MetricName(group="eval", tag="acc"), dataset_type=2)],
        time_created_secs=1.0,
    )
    margin_series = p.MarginChartContent.Series(value="v", lower="l", upper="u")
    layout = p.Layout(
        category=[
            p.Category(
                title="c",
                closed=True,
                chart=[
                    p.Chart(title="m", multiline=p.MultilineChartContent(tag=[r"loss\..*"])),
                    p.Chart(title="b", margin=p.MarginChartContent(series=[margin_series])),
                ],
            )
        ]
    )
    tb_event = "tensorboard.compat.proto.event_pb2.Event"
    tb_hparams = "tensorboard.plugins.hparams.plugin_data_pb2.HParamsPluginData"
    tb_plugin = "tensorboard.plugins.{0}.plugin_data_pb2.{1}PluginData"
    embedding = p.EmbeddingInfo(
        tensor_name="t",
        tensor_path="t.tsv",
        metadata_path="m.tsv",
        tensor_shape=[10, 3],
        sprite=p.SpriteMetadata(image_path="s.png", single_image_dim=[28, 28]),
    )
    return [
        (p.Event(wall_time=1.25, file_version="brain.Event:2", source_metadata=p.SourceMetadata(writer="w")), tb_event),
        (p.Event(wall_time=2.0, step=7, summary=summary), tb_event),
        (p.Event(step=-1, graph_def=graph.SerializeToString()), tb_event),
        (p.Event(tagged_run_metadata=p.TaggedRunMetadata(tag="step1", run_metadata=run_metadata.SerializeToString())),
         tb_event),
        (p.Event(session_log=p.SessionLog(status=p.SESSION_LOG_START, msg="m", checkpoint_path="c")), tb_event),
        (p.Event(log_message=p.LogMessage(level=p.LogMessage.WARN, message="x")), tb_event),
        (graph, "tensorboard.compat.proto.graph_pb2.GraphDef"),
        (run_metadata, "tensorboard.compat.proto.config_pb2.RunMetadata"),
        (p.HParamsPluginData(session_start_info=start), tb_hparams),
        (p.HParamsPluginData(experiment=experiment), tb_hparams),
        (p.HParamsPluginData(session_end_info=p.SessionEndInfo(status=p.STATUS_SUCCESS, end_time_secs=9.0)),
         tb_hparams),
        (p.MeshPluginData(name="m", content_type=p.MESH_FACE, json_config="{}", shape=[1, 4, 3], components=14),
         "tensorboard.plugins.mesh.plugin_data_pb2.MeshPluginData"),
        (layout, "tensorboard.plugins.custom_scalar.layout_pb2.Layout"),
        (p.AudioPluginData(encoding=p.AUDIO_ENCODING_WAV, converted_to_tensor=True),
         tb_plugin.format("audio", "Audio")),
        (p.ImagePluginData(converted_to_tensor=True), tb_plugin.format("image", "Image")),
        (p.ScalarPluginData(version=1), tb_plugin.format("scalar", "Scalar")),
        (p.HistogramPluginData(version=1), tb_plugin.format("histogram", "Histogram")),
        (p.TextPluginData(version=1), tb_plugin.format("text", "Text")),
        (p.PrCurvePluginData(version=1, num_thresholds=5), tb_plugin.format("pr_curve", "PrCurve")),
        (p.ProjectorConfig(model_checkpoint_dir="d", embeddings=[embedding]),
         "tensorboard.plugins.projector.projector_config_pb2.ProjectorConfig"),
    ]


def _tb_class(dotted):
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _sample_ids():
    return [f"{i}-{type(message).DESCRIPTOR.name}" for i, (message, _) in enumerate(_sample_messages())]


@pytest.mark.parametrize("index", range(len(_sample_messages())), ids=_sample_ids())
def test_our_bytes_parse_with_tensorboard_and_back(tb_pool, index):
    ours, tb_name = _sample_messages()[index]
    tb_class = _tb_class(tb_name)
    theirs = tb_class.FromString(ours.SerializeToString())
    # Text format names fields, not packages: equal text means equal content.
    assert text_format.MessageToString(theirs) == text_format.MessageToString(ours)
    assert theirs.SerializeToString(deterministic=True) == ours.SerializeToString(deterministic=True)
    back = type(ours).FromString(theirs.SerializeToString())
    assert back == ours


@pytest.mark.parametrize("index", range(len(_sample_messages())), ids=_sample_ids())
def test_tensorboard_text_parses_with_our_classes(tb_pool, index):
    # Build tensorboard's message independently (from text), then read its bytes with ours.
    ours, tb_name = _sample_messages()[index]
    theirs = text_format.Parse(text_format.MessageToString(ours), _tb_class(tb_name)())
    parsed = type(ours).FromString(theirs.SerializeToString())
    assert parsed == ours
    assert parsed.SerializeToString(deterministic=True) == theirs.SerializeToString(deterministic=True)


def test_event_fields_after_tensorboard_parse(tb_pool):
    from tensorboard.compat.proto import event_pb2 as tb_event_pb2
    from tensorboard.compat.proto import summary_pb2 as tb_summary_pb2

    event = protos.Event(wall_time=3.5, step=11)
    value = event.summary.value.add(tag="acc", simple_value=0.75)
    value.metadata.plugin_data.plugin_name = "scalars"
    value.metadata.data_class = protos.DATA_CLASS_SCALAR
    parsed = tb_event_pb2.Event.FromString(event.SerializeToString())
    assert parsed.WhichOneof("what") == "summary"
    assert (parsed.wall_time, parsed.step) == (3.5, 11)
    assert parsed.summary.value[0].tag == "acc"
    assert parsed.summary.value[0].simple_value == 0.75
    assert parsed.summary.value[0].metadata.plugin_data.plugin_name == "scalars"
    assert parsed.summary.value[0].metadata.data_class == tb_summary_pb2.DATA_CLASS_SCALAR

    tb_event = tb_event_pb2.Event(wall_time=1.0, step=2)
    tb_event.summary.value.add(tag="t").tensor.string_val.append(b"hello")
    mine = protos.Event.FromString(tb_event.SerializeToString())
    assert mine.summary.value[0].WhichOneof("value") == "tensor"
    assert list(mine.summary.value[0].tensor.string_val) == [b"hello"]


def test_pickle_round_trip():
    event = protos.Event(step=1, summary=protos.Summary(value=[protos.Summary.Value(tag="a", simple_value=1.0)]))
    for message in (event, event.summary.value[0], protos.TensorShapeProto.Dim(size=3)):
        assert pickle.loads(pickle.dumps(message)) == message


# ---------------------------------------------------------------------------------------------
# Generated code


def test_generated_files_have_header():
    paths = sorted(GENERATED_DIR.glob("*_pb2.py*"))
    assert paths
    for path in paths:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# generated by proto/generate.py") and "do not edit" in first, path


def test_regeneration_is_deterministic(tmp_path):
    pytest.importorskip("grpc_tools")
    out = tmp_path / "gen"
    subprocess.run(
        [sys.executable, "proto/generate.py", "--out", str(out)],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    committed = {p.name: p.read_bytes() for p in GENERATED_DIR.glob("*_pb2.py*")}
    generated = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(generated) == sorted(committed)
    stale = [name for name in sorted(generated) if generated[name] != committed[name]]
    assert not stale, f"run `python proto/generate.py`; stale: {stale}"
    protos_count = len(list((REPO_ROOT / "proto").glob("*.proto")))
    assert len(generated) == 2 * protos_count


def test_no_top_level_proto_package():
    """Generated code lives only inside ``eventwriter``: a second copy would register each file twice,
    and a top-level ``proto`` package would shadow proto-plus (google-cloud's dependency)."""
    assert not list((REPO_ROOT / "proto").glob("*_pb2.py")), "generated modules belong in eventwriter/_proto"
    assert not (REPO_ROOT / "proto" / "__init__.py").exists()


def test_pure_python_backend_round_trip():
    script = textwrap.dedent(
        """
        import pickle
        from google.protobuf.internal import api_implementation
        from eventwriter import protos as p

        assert api_implementation.Type() == "python", api_implementation.Type()
        event = p.Event(wall_time=1.5, step=4)
        value = event.summary.value.add(tag="t")
        value.tensor.dtype = p.DT_STRING
        value.tensor.tensor_shape.dim.add(size=1)
        value.tensor.string_val.append(b"x")
        value.metadata.plugin_data.plugin_name = "text"
        data = event.SerializeToString()
        assert p.Event.FromString(data) == event
        assert pickle.loads(pickle.dumps(event)) == event
        start = p.SessionStartInfo()
        start.hparams["lr"].number_value = 0.5
        blob = p.HParamsPluginData(session_start_info=start).SerializeToString()
        assert p.HParamsPluginData.FromString(blob).session_start_info.hparams["lr"].number_value == 0.5
        node = p.NodeDef(name="n")
        node.attr["k"].list.shape.add().dim.add(size=2)
        assert p.NodeDef.FromString(node.SerializeToString()) == node
        assert p.Summary.Value is type(value) and p.AttrValue.ListValue and p.MarginChartContent.Series
        print(data.hex())
        """
    )
    env = dict(os.environ)
    env["PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"] = "python"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    # The pure-Python backend writes the same bytes as the default backend.
    event = protos.Event(wall_time=1.5, step=4)
    value = event.summary.value.add(tag="t")
    value.tensor.dtype = protos.DT_STRING
    value.tensor.tensor_shape.dim.add(size=1)
    value.tensor.string_val.append(b"x")
    value.metadata.plugin_data.plugin_name = "text"
    assert bytes.fromhex(result.stdout.strip()) == event.SerializeToString()
