"""Prints the reference safetensors bytes embedded in SafeTensorsTests.swift.

Run by hand (python3 Tests/Reference/make_safetensors_fixture.py) with the
`safetensors` and `torch` packages; the tests themselves never need Python.

1. `mixedDTypeFixture`: F16, BF16, F64, I64, I32, U8 and BOOL tensors with edge
   values (largest half, subnormals, infinities, NaN, negative zero), written
   by safetensors.torch.
2. `referenceF32Fixture`: two F32 tensors and one metadata entry, to check that
   Tessera's writer produces the same bytes as the reference writer.
"""
import base64

import torch
from safetensors.torch import save

inf, nan = float("inf"), float("nan")
mixed = {
    "half": torch.tensor([1.0, -2.5, 65504.0, 2.0**-24, 1023 * 2.0**-24, inf, -inf, nan, -0.0],
                         dtype=torch.float16),
    "brain": torch.tensor([1.0, -2.5, 3.0e38, 2.0**-133, inf, nan], dtype=torch.bfloat16).reshape(2, 3),
    "double": torch.tensor([0.1, -1e300], dtype=torch.float64),
    "long": torch.tensor([[-3, 2**40]], dtype=torch.int64),
    "int": torch.tensor([7, -8], dtype=torch.int32),
    "byte": torch.tensor([0, 255], dtype=torch.uint8),
    "flag": torch.tensor([True, False, True], dtype=torch.bool),
}
print("mixedDTypeFixture =", base64.b64encode(save(mixed)).decode())

reference = {
    "weight": torch.tensor([[1.0, -2.0, 3.5], [0.25, 0.0, -1e-3]], dtype=torch.float32),
    "bias": torch.tensor([0.5, -0.5], dtype=torch.float32),
}
print("referenceF32Fixture =", base64.b64encode(save(reference, metadata={"format": "pt"})).decode())
