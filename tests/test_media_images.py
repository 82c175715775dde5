"""Images: upright RGB whatever the file holds; atomic writes marked as synthetic."""

from __future__ import annotations

from pathlib import Path

import mediagen as gen
import numpy as np
import pytest
from conftest import shared_file
from PIL import Image

from facegraft.errors import MediaError
from facegraft.media import SYNTHETIC_COMMENT, is_image, probe, read_image, write_image

REAL = ["fr_obama.jpg", "dlib_2008_001322.jpg", "skimage_astronaut.png", "insightface_Tom_Hanks_54745.png"]


@pytest.mark.parametrize("name", REAL)
def test_real_images_read_as_rgb(name: str) -> None:
    path = shared_file(f"images/{name}")
    info = probe(path)
    rgb = read_image(path)
    assert is_image(path) and info.kind == "image"
    assert rgb.dtype == np.uint8 and rgb.shape == (info.height, info.width, 3)
    assert rgb.std() > 10  # a real picture, not a blank


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    path = gen.exif_rotated_jpeg(tmp_path)
    info = probe(path)
    rgb = read_image(path)
    assert (info.rotation, info.width, info.height) == (90, 48, 64) and rgb.shape == (64, 48, 3)
    upright = np.rot90(gen.pattern(0, 64, 48), k=-1)
    assert np.abs(rgb.astype(int) - upright).mean() < 6


@pytest.mark.parametrize("mode", ["L", "CMYK", "RGBA", "P", "I;16", "LA"])
def test_modes_become_rgb(tmp_path: Path, mode: str) -> None:
    base = Image.fromarray(gen.pattern(3, 40, 30))
    suffix = ".jpg" if mode == "CMYK" else ".png"
    if mode == "I;16":
        image = Image.fromarray(np.asarray(base.convert("L")).astype(np.uint16) * 257)
    elif mode in ("RGBA", "LA"):
        image = base.convert(mode)
        alpha = np.zeros((30, 40), np.uint8)
        alpha[:, :20] = 255
        image.putalpha(Image.fromarray(alpha))
    else:
        image = base.convert(mode)
    path = tmp_path / f"img{suffix}"
    image.save(path)
    rgb = read_image(path)
    assert rgb.shape == (30, 40, 3) and rgb.dtype == np.uint8
    grey = np.asarray(base.convert("L")).astype(int)
    if mode in ("L", "I;16"):
        assert np.abs(rgb[..., 0].astype(int) - grey).max() <= 1 and (rgb[..., 0] == rgb[..., 2]).all()
    elif mode in ("RGBA", "LA"):
        assert (rgb[:, 20:] == 255).all()  # transparent half composited on white
        assert rgb[:, :20].min() < 100  # opaque half kept
    elif mode == "P":  # exactly the palette colours
        assert np.array_equal(rgb, np.asarray(image.convert("RGB")))
    else:
        assert np.abs(rgb.astype(int) - np.asarray(base)).mean() < 6


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp"])
def test_write_image_atomic_and_marked(tmp_path: Path, suffix: str) -> None:
    rgb = gen.pattern(5, 64, 48)
    out = write_image(tmp_path / f"out{suffix}", rgb)
    assert [p.name for p in tmp_path.iterdir()] == [out.name]
    back = read_image(out)
    if suffix == ".png":
        assert np.array_equal(back, rgb)
    else:
        assert np.abs(back.astype(int) - rgb).mean() < 4
    tags = probe(out).tags
    assert SYNTHETIC_COMMENT in (tags.get("Comment"), tags.get("comment"), tags.get("ImageDescription"))
    with pytest.raises(MediaError, match="already exists"):
        write_image(out, rgb)
    write_image(out, rgb[::-1].copy(), overwrite=True)
    assert np.abs(read_image(out).astype(int) - rgb[::-1]).mean() < 4


def test_bad_images(tmp_path: Path) -> None:
    text = tmp_path / "x.jpg"
    text.write_text("hello")
    with pytest.raises(MediaError, match="not a readable image"):
        read_image(text)
    good = tmp_path / "good.jpg"
    Image.fromarray(gen.pattern(0, 256, 256)).save(good)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(good.read_bytes()[:400])
    with pytest.raises(MediaError) as err:
        read_image(cut)
    assert str(err.value).startswith(str(cut))
