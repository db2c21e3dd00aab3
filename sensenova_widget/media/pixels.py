"""Pixel values: numpy arrays, tensors and frame stacks read as uint8 images, by one rule.

The value rule (`to_uint8`): uint8 as is; bool as 0/255; uint16 divided by 257 (the full 16-bit
range); float in [0, 1] scaled by 255, else float within [0, 255] taken as is, anything else an
error; other integer types must lie within [0, 255]. The shape rule (`image_array_shape`): HxW,
HxWx1, HxWx3, HxWx4, and CxHxW when C is 1, 3 or 4 and the last dimension is not. Images, video
frames and PIL's 16-bit modes all go through here, so they can never disagree.
"""

from __future__ import annotations

import functools
import math
from typing import Any

from ..errors import MediaError
from .caches import digest
from .values import scrub


def as_array(value: Any, what: str) -> tuple[Any, tuple]:
    """(contiguous numpy array, its content identity) for arrays, tensors, anything `__array__`."""
    import numpy as np

    try:
        a = np.asarray(value)
    except Exception as exc:  # torch raises TypeError/RuntimeError for GPU or grad tensors
        raise MediaError(
            f"{what} could not be read as an array ({scrub(str(exc))}); a torch tensor must be "
            f"detached and on the CPU: tensor.detach().cpu()."
        ) from None
    if a.dtype.kind not in "biuf":
        raise MediaError(
            f"{what}: dtype {a.dtype} cannot be an image: expected uint8, uint16, bool or float."
        )
    a = np.ascontiguousarray(a)
    return a, ("array", digest(a.data), a.dtype.str, a.shape)


def image_array_shape(a: Any, what: str) -> Any:
    """The array as HxW or HxWxC (C 3 or 4); errors name the shape and what is allowed."""
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[-1] not in (1, 3, 4):  # CxHxW
        a = a.transpose(1, 2, 0)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[-1] in (3, 4))):
        raise MediaError(
            f"{what}: shape {tuple(a.shape)} is not an image: expected HxW, HxWx1, HxWx3, "
            "HxWx4 or CxHxW with C in (1, 3, 4) (a TxHxWxC stack is a video: snw.video(...))."
        )
    if a.size == 0:
        raise MediaError(f"{what}: shape {tuple(a.shape)} is an empty image: expected at least 1x1 pixels.")
    return a


@functools.lru_cache(maxsize=1)
def uint16_to_uint8() -> Any:
    """round(v / 257) for every 16-bit value: one table lookup per pixel beats integer division."""
    import numpy as np

    return ((np.arange(65536, dtype=np.uint32) + 128) // 257).astype(np.uint8)


def to_uint8(a: Any, what: str) -> Any:
    """`a` as uint8 by the value rule of this module; errors name `what` and the values found."""
    import numpy as np

    kind = a.dtype.kind
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a)
    if kind == "b":
        return a.astype(np.uint8) * np.uint8(255)
    if a.dtype == np.uint16:
        return np.take(uint16_to_uint8(), a)
    if kind == "f":
        lo, hi = float(a.min()), float(a.max())  # NaN and infinities show up here too
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise MediaError(f"{what}: dtype {a.dtype} with NaN or infinite values cannot be an image.")
        if lo >= 0 and hi <= 255:
            scaled = np.multiply(a, 255.0 if hi <= 1 else 1.0, dtype=np.float32, casting="same_kind")
            scaled += 0.5
            return scaled.astype(np.uint8)
        raise MediaError(
            f"{what}: dtype {a.dtype} values span [{lo:g}, {hi:g}]: float images must lie in "
            "[0, 1] (scaled by 255) or in [0, 255] (taken as is); rescale the array first."
        )
    if kind in "iu":
        lo, hi = int(a.min()), int(a.max())
        if lo >= 0 and hi <= 255:
            return a.astype(np.uint8)
        raise MediaError(
            f"{what}: dtype {a.dtype} values span [{lo}, {hi}]: integer images other than "
            "uint16 must lie in [0, 255]; use uint8, uint16 (divided by 257) or floats in [0, 1]."
        )
    raise MediaError(f"{what}: dtype {a.dtype} cannot be an image: expected uint8, uint16, bool or float.")
