"""Sparse fringe the model calls solid joins the solve; solid parts of the subject do not."""

from __future__ import annotations

import numpy as np
from PIL import Image
from test_refine_gate import BACKDROP, CORE, model_mask

from alphacut.pipeline.matting import MattingParams, matting_with_decision
from alphacut.pipeline.see_through import distance_to_rays

WIDTH, HEIGHT = 768, 576  # twice the working size: the photo box-reduces exactly
EDGE = 240  # where the solid subject ends
ZONE = 48  # width of the part beyond it that the model calls solid
FRINGE = 20  # soft strands beyond that, which the model sees as soft


def scene(zone: np.ndarray) -> tuple[Image.Image, np.ndarray, np.ndarray]:
    """A golden subject, ``zone`` (alpha, HEIGHT x ZONE) beyond it, then a soft fringe.

    Returns the photo, its true alpha and a model mask that calls the subject *and the whole
    zone* solid, and sees the fringe beyond as soft.
    """
    truth = np.zeros((HEIGHT, WIDTH), dtype=np.float32)
    truth[:, :EDGE] = 1.0
    truth[:, EDGE : EDGE + ZONE] = zone
    for y in range(0, HEIGHT, 7):
        truth[y : y + 2, EDGE + ZONE : EDGE + ZONE + FRINGE] = 1.0
    a = truth[..., None]
    photo = Image.fromarray((a * CORE + (1 - a) * BACKDROP).astype(np.uint8), "RGB")
    called = (truth * 255).astype(np.uint8)
    called[:, : EDGE + ZONE] = 255
    return photo, truth, model_mask(called)


def zone_sad(alpha: Image.Image, truth: np.ndarray) -> float:
    """SAD over the zone, leaving out the band at its outer edge."""
    columns = np.s_[:, EDGE : EDGE + ZONE - 8]
    return float(np.abs(np.asarray(alpha, dtype=np.float64)[columns] / 255 - truth[columns]).sum())


def test_sparse_strands_the_model_calls_solid_are_refined() -> None:
    # One-pixel strands every four pixels: three quarters of the zone is backdrop.
    zone = np.zeros((HEIGHT, ZONE), dtype=np.float32)
    zone[::4] = 1.0
    photo, truth, mask = scene(zone)
    alpha, decision = matting_with_decision(mask, photo)
    without, before = matting_with_decision(mask, photo, MattingParams(see_through=False))
    assert before.see_through == 0 and decision.see_through > 0
    assert "seen through" in decision.summary()
    assert zone_sad(alpha, truth) < 0.5 * zone_sad(without, truth)
    # The subject itself stays solid.
    assert (np.asarray(alpha)[:, : EDGE - 40] == 255).all()


def test_solid_subject_with_shadows_and_backdrop_coloured_parts_is_untouched() -> None:
    # The zone is solid subject: a shadowed rim (the subject's own colour, dimmed, which lies
    # nearer the backdrop's colours than the lit subject's), a backdrop-blue badge enclosed by
    # the subject, and a backdrop-blue part wider than the model's resolution at the edge.
    zone = np.ones((HEIGHT, ZONE), dtype=np.float32)
    photo, truth, mask = scene(zone)
    pixels = np.asarray(photo).copy()
    pixels[:, EDGE : EDGE + ZONE] = (0.3 * CORE).astype(np.uint8)
    pixels[100:140, EDGE - 40 : EDGE - 20] = BACKDROP.astype(np.uint8)
    pixels[300:380, EDGE + 16 : EDGE + ZONE] = BACKDROP.astype(np.uint8)
    photo = Image.fromarray(pixels, "RGB")
    alpha, decision = matting_with_decision(mask, photo)
    without, _ = matting_with_decision(mask, photo, MattingParams(see_through=False))
    assert decision.solve and decision.see_through == 0
    assert np.array_equal(np.asarray(alpha), np.asarray(without))


def test_distance_to_rays_ignores_shading() -> None:
    surface = np.array([[0.8, 0.6, 0.0], [0.1, 0.9, 0.1]])
    colours = np.array([[0.4, 0.3, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.5], [0.8, 0.6, 0.7]])
    distance = distance_to_rays(colours, surface)
    # A dimmer version of a surface colour, and black, lie on its ray.
    assert distance[0] < 1e-6 and distance[1] < 1e-6
    # Blue is at right angles to the first colour's ray and nearly so to the second's.
    assert abs(distance[2] - 0.5 * np.sqrt(1 - 0.1**2 / 0.83)) < 1e-6
    # The nearest point of the first ray is (0.8, 0.6, 0): the blue part is the distance.
    assert abs(distance[3] - 0.7) < 1e-6
