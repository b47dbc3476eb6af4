"""The suite of data sets with known evidence (utils/data/suite): the drawing checked by hand, the evidence
against what each generator drew, class-free backgrounds, seeds and splits, the writer and its command, and
the written folder read back by the 'folder' data set."""
import subprocess
import sys

import numpy as np
import pytest
from scipy import ndimage

from utils.data.datasets import load_data
from utils.data.suite import DATA_SETS, generate, write_folder
from utils.data.suite.drawing import (convex_polygon_mask, dilate, disc_mask, hsv_to_rgb, segment_mask,
                                      smooth_noise)
from utils.data.suite.blob_count import RADIUS, blob_centres
from utils.data.suite.colour_regions import polygon_vertices
from utils.data.suite.stroke_figures import GAP, figure_mask
from utils.data.suite.tetrominoes import tetromino_mask
from utils.data.suite.texture_patch import texture
from utils.errors import UsageError

from conftest import ROOT


def grid(rows: str) -> np.ndarray:
    """A hand-written mask: one word per row, '#' = True."""
    return np.array([[c == "#" for c in row] for row in rows.split()], bool)


# --- the drawing, by hand -------------------------------------------------------------------------------

def test_a_square_between_pixel_centres_covers_the_pixels_inside_it():
    square = [(0.5, 0.5), (0.5, 3.5), (3.5, 3.5), (3.5, 0.5)]
    assert np.array_equal(convex_polygon_mask(square, 5), grid("..... .###. .###. .###. ....."))
    assert np.array_equal(convex_polygon_mask(square[::-1], 5), convex_polygon_mask(square, 5))   # either winding


def test_a_disc_of_radius_2_3_is_the_21_pixels_of_squared_distance_up_to_5():
    assert np.array_equal(disc_mask((2, 2), RADIUS, 5), grid(".###. ##### ##### ##### .###."))


def test_straight_and_diagonal_segments_are_one_pixel_wide():
    assert np.array_equal(segment_mask((2, 1), (2, 4), 5), grid("..... ..... .#### ..... ....."))
    assert np.array_equal(segment_mask((0, 0), (4, 4), 5), np.eye(5, dtype=bool))


def test_dilate_grows_a_pixel_into_a_square():
    point = np.zeros((7, 7), bool)
    point[3, 3] = True
    assert np.array_equal(dilate(point, 2), grid("....... .#####. .#####. .#####. .#####. .#####. ......."))


def test_smooth_noise_is_standardised_and_correlated_over_sigma():
    field = smooth_noise(np.random.default_rng(0), 64, sigma=2.0)[..., 0]
    white = np.random.default_rng(0).normal(size=(64, 64))
    neighbours = lambda f: np.corrcoef(f[:, :-1].ravel(), f[:, 1:].ravel())[0, 1]   # noqa: E731
    assert abs(field.mean()) < 1e-9 and abs(field.std() - 1) < 1e-9
    assert neighbours(field) > 0.8 and abs(neighbours(white)) < 0.1


def test_hsv_hues_0_120_240_are_red_green_blue_and_no_saturation_is_grey():
    assert np.allclose(hsv_to_rgb(0, 1, 1), [1, 0, 0])
    assert np.allclose(hsv_to_rgb(120, 1, 1), [0, 1, 0])
    assert np.allclose(hsv_to_rgb(240, 1, 0.5), [0, 0, 0.5])
    assert np.allclose(hsv_to_rgb(77, 0, 0.4), [0.4, 0.4, 0.4])


# --- each generator's drawing, by hand ------------------------------------------------------------------

def test_tetrominoes_upright_and_turned():
    # cells of 1 px; the L's cells' centroid (1.25, 0.25) lands on (4, 4), so its corner cell is (5, 5)
    assert np.array_equal(tetromino_mask("L", (4, 4), 0.0, 1.0, 8),
                          grid("........ ........ ........ ....#... ....#... ....##.. ........ ........"))
    # a quarter turn counter-clockwise: the foot that pointed right points up
    assert np.array_equal(tetromino_mask("L", (4, 4), np.pi / 2, 1.0, 8),
                          grid("........ ........ ........ .....#.. ...###.. ........ ........ ........"))
    # cells of 3 px, half a turn: the T upside down. Its cells' centroid lies a quarter cell off the bar's centre
    # line, so on row 4.25 the bar is centred on row 5 and the stem on row 2
    assert np.array_equal(tetromino_mask("T", (4.25, 4), np.pi, 3.0, 10), grid(
        ".......... ...###.... ...###.... ...###.... #########. "
        "#########. #########. .......... .......... .........."))


def test_texture_patches_of_period_4():
    assert np.array_equal(texture("horizontal", 4, (0, 0)), grid("#### #### .... ...."))
    assert np.array_equal(texture("vertical", 4, (0, 1)), grid("#..# #..# #..# #..#"))
    assert np.array_equal(texture("checker", 4, (1, 0)), grid("##.. ..## ..## ##.."))


def test_stroke_figures_plus_and_zigzag():
    # the plus's arms are 1.2 spans long: 6 px for a span of 5, so 3 px on each side of the centre
    assert np.array_equal(figure_mask("plus", (4, 4), 5.0, 0.0, 9), grid(
        "......... ....#.... ....#.... ....#.... .#######. ....#.... ....#.... ....#.... ........."))
    # the zigzag: top bar, the diagonal from its right end down to the left, the bottom bar
    assert np.array_equal(figure_mask("zigzag", (3, 3), 4.0, 0.0, 7), grid(
        "....... .#####. ....#.. ...#... ..#.... .#####. ......."))


def test_blobs_keep_their_distance_and_the_border():
    centres = np.array(blob_centres(np.random.default_rng(3), 3))
    gaps = [np.hypot(*(a - b)) for i, a in enumerate(centres) for b in centres[i + 1:]]
    assert min(gaps) >= 7 and centres.min() >= 3 and centres.max() <= 28


def test_random_polygons_are_convex_with_the_asked_area():
    for seed in range(20):
        v = polygon_vertices(np.random.default_rng(seed), 200.0)
        edges = np.roll(v, -1, axis=0) - v
        turns = edges[:, 0] * np.roll(edges, -1, axis=0)[:, 1] - edges[:, 1] * np.roll(edges, -1, axis=0)[:, 0]
        assert (turns > 0).all() or (turns < 0).all()
        # the area from a fine raster (the shoelace formula is what the generator used)
        fine = convex_polygon_mask(v * 8 + 200, 400).sum() / 64
        assert abs(fine - 200) < 4


# --- every data set: the evidence is what was drawn -----------------------------------------------------

@pytest.mark.parametrize("name", DATA_SETS)
def test_the_evidence_is_exactly_the_pixels_the_class_object_changed(name):
    spec = DATA_SETS[name]
    for seed in range(12):
        label = seed % len(spec.classes)
        image, evidence = spec.render(label, np.random.default_rng(seed))
        without, none = spec.render(label, np.random.default_rng(seed), with_object=False)
        assert image.shape == (spec.size, spec.size, spec.channels) and evidence.shape == (spec.size, spec.size)
        assert image.min() >= 0 and image.max() <= 1
        assert not none.any()
        assert np.array_equal(np.any(image != without, axis=-1), evidence)


@pytest.mark.parametrize("name", DATA_SETS)
def test_without_the_class_object_an_image_is_the_same_whatever_its_class(name):
    """Background and distractors are drawn independently of the class: they carry no class information."""
    spec = DATA_SETS[name]
    for seed in range(6):
        first = spec.render(0, np.random.default_rng(seed), with_object=False)[0]
        for label in range(1, len(spec.classes)):
            assert np.array_equal(spec.render(label, np.random.default_rng(seed), with_object=False)[0], first)


@pytest.mark.parametrize("name", DATA_SETS)
def test_the_evidence_share_is_in_the_documented_range_and_classes_are_balanced(name):
    spec = DATA_SETS[name]
    images, labels, evidence, classes = generate(name, "test", 10 * len(spec.classes) + 1, seed=5)
    share = evidence.mean(axis=(1, 2))
    low, high = spec.evidence_share
    assert 0.01 <= low and high <= 0.15   # the suite's span of evidence sizes
    assert share.min() >= low and share.max() <= high
    counts = np.bincount(labels, minlength=len(classes))
    assert counts.max() - counts.min() == 1 and classes == spec.classes
    assert images.dtype == np.uint8 and images.shape[1:] == (spec.size, spec.size, spec.channels)


def test_the_suite_covers_sizes_channels_and_evidence_shares():
    specs = DATA_SETS.values()
    assert len(DATA_SETS) >= 4
    assert {s.channels for s in specs} == {1, 3}
    assert min(s.size for s in specs) == 32 and max(s.size for s in specs) == 64
    assert min(s.evidence_share[0] for s in specs) < 0.02 and max(s.evidence_share[1] for s in specs) >= 0.14


def test_blob_count_evidence_is_as_many_blobs_as_the_class_says():
    _, labels, evidence, _ = generate("blob_count", "train", 30, seed=1)
    assert [ndimage.label(e)[1] for e in evidence] == list(labels + 1)


def test_stroke_figures_clutter_stays_apart_from_the_figure():
    spec = DATA_SETS["stroke_figures"]
    for seed in range(9):
        image, evidence = spec.render(seed % 3, np.random.default_rng(seed))
        strokes = image[..., 0] > 0.55   # ink >= 0.66 and background <= 0.39, noise included
        clutter = strokes & ~evidence
        assert clutter.any() and ndimage.label(evidence, structure=np.ones((3, 3)))[1] == 1
        assert not (clutter & dilate(evidence, GAP)).any()


def test_colour_regions_only_the_class_region_has_colour():
    spec = DATA_SETS["colour_regions"]
    for seed in range(9):
        label = seed % 3
        image, evidence = spec.render(label, np.random.default_rng(seed))
        chroma = image.max(axis=-1) - image.min(axis=-1)
        assert np.array_equal(chroma > 0.2, evidence)
        assert np.argmax(image[evidence].mean(axis=0)) == label   # red, green, blue


# --- seeds and splits -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", DATA_SETS)
def test_the_same_seed_gives_the_same_data_and_splits_and_seeds_differ(name):
    train = generate(name, "train", 6, seed=2)
    again = generate(name, "train", 6, seed=2)
    for a, b in zip(train[:3], again[:3]):
        assert np.array_equal(a, b)
    for other in (generate(name, "val", 6, seed=2), generate(name, "train", 6, seed=3)):
        assert not np.array_equal(other.images, train.images)
        assert not np.array_equal(other.evidence, train.evidence)


def test_unknown_names_and_splits_are_refused():
    with pytest.raises(UsageError, match="choose one of tetrominoes"):
        generate("nope", "train", 2)
    with pytest.raises(UsageError, match="choose one of train, val, test"):
        generate("blob_count", "validation", 2)


# --- the folder ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["texture_patch", "blob_count"])   # one colour, one grey
def test_the_written_folder_loads_with_its_evidence(tmp_path, name):
    spec = DATA_SETS[name]
    k = len(spec.classes)
    sizes = {"train": 2 * k, "val": k, "test": k + 1}
    root = write_folder(name, tmp_path / "data", sizes, seed=4)
    assert sorted(p.name for p in root.iterdir()) == ["evidence", "test", "train", "val"]
    assert [p.name for p in tmp_path.iterdir()] == ["data"]   # no partial folder left beside it
    data = load_data("folder", spec.size, spec.channels, data_dir=str(root))
    folder_classes = sorted(spec.classes)   # the loader orders class folders by name
    assert data.num_classes == k
    for split, loaded in (("train", data.train), ("val", data.val), ("test", data.test)):
        generated = generate(name, split, sizes[split], seed=4)
        by_pixels = {image.tobytes(): (spec.classes[y], e) for image, y, e in
                     zip(generated.images, generated.labels, generated.evidence)}
        assert len(loaded) == sizes[split] and loaded.x.shape[1:] == (spec.size, spec.size, spec.channels)
        for image, y, e in zip(loaded.x, loaded.y, loaded.evidence):
            class_name, evidence = by_pixels[image.tobytes()]
            assert folder_classes[y] == class_name and np.array_equal(e, evidence)


def test_write_folder_refuses_a_folder_with_files_and_writes_into_an_empty_one(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(UsageError, match="already exists and is not empty: remove it or choose a new folder"):
        write_folder("blob_count", tmp_path / "full", {"train": 3, "val": 0, "test": 3})
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]
    (tmp_path / "empty").mkdir()
    write_folder("blob_count", tmp_path / "empty", {"train": 3, "val": 0, "test": 3})
    assert sorted(p.name for p in (tmp_path / "empty").iterdir()) == ["evidence", "test", "train"]
    assert len(list((tmp_path / "empty" / "evidence" / "train").rglob("*.png"))) == 3


def test_an_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    from PIL import Image

    saved = []

    def fails_on_the_fifth(image, path, *args, **kwargs):
        saved.append(path)
        if len(saved) == 5:
            raise KeyboardInterrupt
        return save(image, path, *args, **kwargs)

    save = Image.Image.save
    monkeypatch.setattr(Image.Image, "save", fails_on_the_fifth)
    with pytest.raises(KeyboardInterrupt):
        write_folder("blob_count", tmp_path / "data", {"train": 6, "val": 0, "test": 3})
    assert list(tmp_path.iterdir()) == []


def _suite_command(*args):
    return subprocess.run([sys.executable, "-m", "utils.data.suite", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_the_figure_outlines_the_evidence_in_a_small_png(tmp_path):
    from PIL import Image

    from utils.data.suite.figure import outline, plot_examples

    square = grid("..... .###. .###. .###. .....")
    assert np.array_equal(outline(square), square & ~grid("..... ..... ..#.. ..... ....."))
    path = plot_examples("blob_count", tmp_path / "blobs.png", count=3)
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width > 3 * 32
    assert path.stat().st_size < 60_000


def test_the_command_lists_and_writes(tmp_path):
    listed = _suite_command("--list")
    assert listed.returncode == 0 and [line.split()[0] for line in listed.stdout.splitlines()] == list(DATA_SETS)
    written = _suite_command("stroke_figures", tmp_path / "out", "--train", 3, "--val", 3, "--test", 3, "--seed", 1)
    assert written.returncode == 0, written.stderr
    assert len(list((tmp_path / "out" / "val").rglob("*.png"))) == 3


@pytest.mark.parametrize("args, message", [
    ((), "give NAME and OUT_DIR, or --list"),
    (("nope", "OUT"), "no data set 'nope'"),
    (("blob_count", "OUT", "--train", "-1"), "'-1' is not a number of images"),
    (("blob_count", "OUT", "--train", "0"), "give train and test at least 1 image"),
    (("--list", "blob_count"), "--list takes no NAME"),
])
def test_bad_input_is_one_line_on_stderr_and_exit_code_2(tmp_path, args, message):
    result = _suite_command(*(str(tmp_path / "out") if a == "OUT" else a for a in args))
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and message in result.stderr
    assert not (tmp_path / "out").exists()
