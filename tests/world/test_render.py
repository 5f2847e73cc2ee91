"""Scenes to pixels: what one video's frames share must not leak from one frame into the next."""

from __future__ import annotations

import random

import numpy as np

from ccrkit.world.render import background, canvas_base, draw, render_video, video_state
from ccrkit.world.scene import sample_family


def test_each_video_frame_is_drawn_on_a_clean_copy_of_the_shared_background() -> None:
    rng = random.Random(5)
    scenes = [scene for _ in range(3) for scene in sample_family(rng, True, 4)]
    for scene in scenes:
        frames = render_video(scene, 32, 8, 3)
        for t, frame in enumerate(frames):
            alone = canvas_base(background(scene.background, 32), 3)
            assert np.array_equal(frame, draw(video_state(scene, t, 8), alone, 3))
    moving = [s for s in scenes if any(e.kind == "move" for e in s.events)]
    assert moving, "the sample needs a moving object"
    assert all(not np.array_equal(render_video(s, 32, 8, 3)[0], render_video(s, 32, 8, 3)[-1])
               for s in moving)  # fmt: skip
