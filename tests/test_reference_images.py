"""Image reading, resizing and Keras-style scaling."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from costmodel.errors import InputError
from costmodel.reference.images import load_image, preprocess, read_image, resize_bilinear


def test_resize_is_exact_on_constants_and_linear_ramps():
    const = np.full((37, 53, 3), 99.0, np.float32)
    np.testing.assert_allclose(resize_bilinear(const, 16), 99.0, rtol=1e-6)  # float32 blend of equal values
    # A ramp along x is reproduced exactly at the sample positions away from the clamped edges:
    # output pixel j samples input position (j + 0.5) * 40 / 20 - 0.5 = 2j + 0.5.
    ramp = np.tile(np.arange(40, dtype=np.float32)[None, :, None], (40, 1, 1))
    out = resize_bilinear(ramp, 20)[0, :, 0]
    np.testing.assert_allclose(out, 2 * np.arange(20) + 0.5, rtol=0, atol=1e-5)  # float32 interpolation
    up = resize_bilinear(ramp, 80)[0, 1:-1, 0]  # upsampling: position (j + 0.5) / 2 - 0.5
    np.testing.assert_allclose(up, (np.arange(1, 79) + 0.5) / 2 - 0.5, rtol=0, atol=1e-5)


def test_preprocess_scales_like_keras():
    img = np.array([[[0, 127.5, 255]]], np.float32).repeat(4, 0).repeat(4, 1)
    x = preprocess(img, 4)
    assert x.shape == (1, 4, 4, 3) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, 0, 0], [-1.0, 0.0, 1.0], atol=1e-7)  # x / 127.5 - 1, exact in float32


@pytest.mark.parametrize(
    ("mode", "suffix"), [("RGB", ".png"), ("L", ".png"), ("RGBA", ".png"), ("RGB", ".jpg"), ("L", ".jpg")]
)
def test_read_png_and_jpeg(tmp_path, mode, suffix):
    path = tmp_path / f"img{suffix}"
    Image.new(mode, (30, 20), color=128 if mode == "L" else (10, 200, 30, 255)[: len(mode)]).save(path)
    data = read_image(path)
    assert data.shape == (20, 30, 3) and data.dtype == np.uint8
    x = load_image(path, 32)
    assert x.shape == (1, 32, 32, 3)
    want = (np.array([128, 128, 128]) if mode == "L" else np.array([10, 200, 30])) / 127.5 - 1
    np.testing.assert_allclose(x[0, 5, 5], want, atol=0.05)  # JPEG is lossy: a few levels of 255


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((4, 4), np.uint8), r"\(H, W, 3\)"),
        (np.zeros((4, 4, 4), np.uint8), r"\(H, W, 3\)"),
        (np.zeros((4, 4, 3), np.int64), "dtype int64"),
        (np.full((4, 4, 3), np.nan, np.float32), "NaN"),
        ("pixels", "NumPy array"),
    ],
)
def test_bad_images(image, message):
    with pytest.raises(InputError, match=message):
        preprocess(image, 8)


def test_unreadable_files(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_image(tmp_path / "nope.png")
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    with pytest.raises(InputError, match="cannot read image"):
        read_image(tmp_path / "x.png")


def test_flavour_preprocessing_crops_the_centre_and_normalises():
    from costmodel.spec.flavours import FLAVOURS

    img = np.zeros((16, 16, 3), np.uint8)
    img[2:14, 2:14] = 255  # a white square, black border 2 pixels wide: 0.875 of 16 is 14, which cuts 1 each side
    x = preprocess(img, 14, FLAVOURS["tfslim"].preprocessing)
    assert x.shape == (1, 14, 14, 3)
    assert x[0, 0, 0, 0] == -1.0 and x[0, 1, 1, 0] == 1.0  # one border pixel left, then white, scaled to -1..1
    np.testing.assert_array_equal(
        preprocess(img, 16, FLAVOURS["keras"].preprocessing)[0, :, :, 0], preprocess(img, 16)[0, :, :, 0]
    )
