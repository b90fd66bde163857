"""Scenario footage: identity-labelled photos turned into counter-camera video with ground truth.

Use::

    from swipeguard.scenario import generate_footage, people_from_pairs, plan_day

    people = people_from_pairs(lfw_root)[:8]          # enrol image i, film image j
    plan = plan_day(people=people, duration=60, seed=7, misuse=0.25)
    scenario = generate_footage(people=people, plan=plan, out_dir=out, seed=7)
    scenario.video, scenario.swipes[0].expected, scenario.enrolment[name]

``generate_day(people=..., out_dir=..., seed=...)`` does both steps in one call,
or ``swipeguard scenario generate --photos ../shared/data/faces/lfw --out DIR``.
``load_scenario(DIR)`` reads a generated scenario back from its ``timeline.json``.

What is realistic:
- The format: H.264 (libx264 ``veryfast``, zero-latency, no B-frames, a keyframe every
  2 s) at 15 fps, 1280x720 or 704x576, ~1.5 Mb/s held by a VBV buffer, AAC mono 16 kHz;
  an on-screen clock; sensor noise, slow auto-exposure drift, vignetting, soft focus.
- The faces: real photos of real people, a different photo from the enrolment one,
  ~165 px wide at the counter in 720p; they sway, turn up to ~10 degrees, tilt, lean
  in and glance down at the terminal when the card is swiped, are lit differently per
  visit, blur while walking in and out, and change scale as they approach.
- The events: one customer at a time, walking in and out, one or two swipes per visit,
  a set share on someone else's card, optional swipes with nobody at the counter,
  optional companions waiting beside the customer (a second, smaller real face),
  passers-by crossing the back of the shop (small, turned, smeared by motion), and a
  beep on the audio track at every swipe. The counter is empty at the first and last
  frame, so a file loops cleanly when replayed as a live camera.

Measured (``swipeguard scenario generate``, 1280x720, dlib HOG without upsampling):
the customer's face is found in ~99% of at-counter frames, no counter-sized face in
empty frames, and genuine swipe frames sit 0.2-0.57 from the other LFW photo.

What is not:
- A head is a flat photo on a plane: turning it is a perspective warp, not a new view;
  expressions, blinks, speech and occlusion by hands or masks never happen.
- Bodies are synthesised garments under the photo's own neck and collar; the photo's
  background shows as a faint halo round the head.
- The shop is drawn from rectangles and gradients; light is global, with no cast shadows
  and no backlight on the face.
- Compression artefacts, noise and motion blur are real H.264 and Gaussian models, not a
  particular camera's pipeline; there is no rolling shutter, IR mode or lens distortion.
"""

from swipeguard.scenario.generator import generate_day, generate_footage
from swipeguard.scenario.photos import list_people, make_portrait, people_from_pairs
from swipeguard.scenario.plan import check_plan, plan_day
from swipeguard.scenario.timeline import load_scenario
from swipeguard.scenario.types import (
    Appearance,
    Expected,
    Passer,
    PersonPhotos,
    Plan,
    PlannedSwipe,
    Scenario,
    SwipeTruth,
    Visit,
    VisitTruth,
)

__all__ = [
    "Appearance", "Expected", "Passer", "PersonPhotos", "Plan", "PlannedSwipe", "Scenario",
    "SwipeTruth", "Visit", "VisitTruth", "check_plan", "generate_day", "generate_footage",
    "list_people", "load_scenario", "make_portrait", "people_from_pairs", "plan_day",
]
