"""Images for the reference executor: read a PNG/JPEG, resize, and scale as Keras' MobileNet does.

Keras' ``mobilenet.preprocess_input`` maps pixel values 0..255 to -1..1 (``x / 127.5 - 1``). Images are read
with Pillow, which matplotlib (a runtime dependency) already requires, and resized with NumPy (bilinear,
half-pixel centres, as ``tf.image.resize`` and Pillow's ``BILINEAR`` do when shrinking by less than 2x).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from .._files import check_input
from ..errors import InputError
from ..spec.flavours import Preprocessing
from .limits import MAX_IMAGE_PIXELS_VARIABLE, max_image_bytes, max_image_pixels

__all__ = ["read_image", "resize_bilinear", "preprocess", "load_image", "random_image"]


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file as uint8 RGB, shape (H, W, 3). Grey and RGBA images are converted to RGB."""
    path = check_input(path, "image file", InputError, max_image_bytes())  # a folder, FIFO, device: refused
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:  # pragma: no cover - Pillow comes with matplotlib
        import matplotlib.image as mpimg

        try:
            data = mpimg.imread(path)
        except (OSError, ValueError, SyntaxError) as exc:
            raise InputError(f"cannot read image {str(path)!r}: {exc}") from None
        if data.dtype != np.uint8:
            data = np.clip(np.rint(data * 255), 0, 255).astype(np.uint8)
        if data.ndim == 2:
            data = np.repeat(data[:, :, None], 3, axis=2)
        return np.ascontiguousarray(data[:, :, :3])
    limit = max_image_pixels()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # ours is the limit that counts
            with Image.open(path) as img:  # reads the header only
                width, height = img.size
                if width * height > limit:
                    raise InputError(_too_many_pixels(path, width, height, limit))
                return np.asarray(img.convert("RGB"), dtype=np.uint8)
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputError(f"image {str(path)!r} is refused as a decompression bomb: {exc}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise InputError(f"cannot read image {str(path)!r} (not a PNG/JPEG, or truncated): {exc}") from None


def _too_many_pixels(path: Path, width: int, height: int, limit: int) -> str:
    return (
        f"image {str(path)!r} is {width} x {height} = {width * height:,} pixels; the limit is {limit:,} "
        f"(raise it with ${MAX_IMAGE_PIXELS_VARIABLE})"
    )


def resize_bilinear(image: np.ndarray, size: int) -> np.ndarray:
    """Resize (H, W, C) to (size, size, C) by bilinear interpolation with half-pixel centres, in float32.

    Vectorised: two gathers and two blends, no loop over pixels.

    >>> resize_bilinear(np.arange(4, dtype=np.float32).reshape(1, 4, 1), 2)[0, :, 0]
    array([0.5, 2.5], dtype=float32)
    """
    h, w = image.shape[:2]
    x = image.astype(np.float32)

    def axis(n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = (np.arange(size, dtype=np.float64) + 0.5) * (n_in / size) - 0.5
        pos = np.clip(pos, 0, n_in - 1)
        lo = np.floor(pos).astype(np.intp)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, (pos - lo).astype(np.float32)

    y0, y1, fy = axis(h)
    x0, x1, fx = axis(w)
    rows = x[y0] * (1 - fy)[:, None, None] + x[y1] * fy[:, None, None]  # (size, W, C)
    return rows[:, x0] * (1 - fx)[None, :, None] + rows[:, x1] * fx[None, :, None]


def preprocess(image: np.ndarray, size: int, preprocessing: Preprocessing | None = None) -> np.ndarray:
    """An RGB image with values 0..255, shape (H, W, 3), to a model input of shape (1, size, size, 3).

    Resized to ``size`` x ``size`` (bilinear), then scaled to -1..1 by ``x / 127.5 - 1`` (Keras MobileNet). With a
    flavour's ``preprocessing`` (:class:`~costmodel.spec.flavours.Preprocessing`): the central ``crop_pct`` of
    each side first (TF-slim's and timm's evaluation crop, 0.875), then ``(x - mean) / std``. The resize is
    bilinear whatever the flavour says (timm evaluates with bicubic).
    """
    if not isinstance(image, np.ndarray):
        raise InputError(f"image must be a NumPy array of shape (H, W, 3), got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"image must have shape (H, W, 3) (RGB), got {image.shape}")
    if image.dtype != np.uint8 and not np.issubdtype(image.dtype, np.floating):
        raise InputError(f"image must be uint8 or float with values 0..255, got dtype {image.dtype}")
    if not np.isfinite(image).all():
        raise InputError("image contains NaN or infinite values")
    if preprocessing is None:
        x = resize_bilinear(image, size)
        return (x / np.float32(127.5) - np.float32(1.0))[None].astype(np.float32)
    if preprocessing.crop_pct < 1:
        h, w = image.shape[:2]
        ch, cw = max(1, round(h * preprocessing.crop_pct)), max(1, round(w * preprocessing.crop_pct))
        top, left = (h - ch) // 2, (w - cw) // 2
        image = image[top : top + ch, left : left + cw]
    x = resize_bilinear(image, size)
    mean, std = np.array(preprocessing.mean, np.float32), np.array(preprocessing.std, np.float32)
    return ((x - mean) / std)[None].astype(np.float32)


def load_image(path: str | os.PathLike[str], size: int, preprocessing: Preprocessing | None = None) -> np.ndarray:
    """Read, resize and scale an image file: (1, size, size, 3) float32 (in -1..1 for every flavour here)."""
    return preprocess(read_image(path), size, preprocessing)


def random_image(size: int, seed: int = 0) -> np.ndarray:
    """A random preprocessed input (1, size, size, 3), uniform in -1..1, for runs without an image."""
    return np.random.default_rng(seed).uniform(-1, 1, (1, size, size, 3)).astype(np.float32)
