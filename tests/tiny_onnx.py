"""Tiny ONNX models written byte by byte (the ``onnx`` package is not a test dependency).

Only the protobuf fields ONNX Runtime needs to load a one-node Identity graph are written:
ModelProto(ir_version=1, graph=7, opset_import=8); GraphProto(node=1, name=2, input=11,
output=12); NodeProto(input=1, output=2, op_type=4); ValueInfoProto(name=1, type=2);
TypeProto(tensor_type=1); TypeProto.Tensor(elem_type=1, shape=2); TensorShapeProto(dim=1);
Dimension(dim_value=1, dim_param=2).
"""

from __future__ import annotations

FLOAT = 1
INT64 = 7


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes | int) -> bytes:
    if isinstance(payload, int):
        return _varint(number << 3) + _varint(payload)
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _value_info(name: str, dims: tuple[int | str, ...], elem_type: int) -> bytes:
    shape = b"".join(
        _field(1, _field(2, d.encode()) if isinstance(d, str) else _field(1, d)) for d in dims
    )
    tensor = _field(1, elem_type) + _field(2, shape)
    return _field(1, name.encode()) + _field(2, _field(1, tensor))


def identity_onnx(dims: tuple[int | str, ...], elem_type: int = FLOAT) -> bytes:
    """A model whose one input ``x`` (shape ``dims``; a str is a free dimension) is its output."""
    node = _field(1, b"x") + _field(2, b"y") + _field(4, b"Identity")
    graph = (_field(1, node) + _field(2, b"g") + _field(11, _value_info("x", dims, elem_type))
             + _field(12, _value_info("y", dims, elem_type)))
    return _field(1, 8) + _field(8, _field(1, b"") + _field(2, 13)) + _field(7, graph)
