"""Load profiles as data (DESIGN §15). Each stage: until `end` seconds, `users` at `spawn_rate`.

`capacity` is the one profile that is not a fixed list: it steps users up until a threshold
breaks (loadtests/capacity.py).
"""

from typing import NamedTuple

from loadtests.capacity import Plan


class Stage(NamedTuple):
    end: int
    users: int
    spawn_rate: float


SHAPES: dict[str, tuple[Stage, ...]] = {
    # A release gate's sanity pass: every journey, a handful of users.
    "smoke": (Stage(30, 5, 5),),
    # Steady traffic at the level we plan for, after a ramp.
    "load": (Stage(60, 50, 5), Stage(300, 50, 5)),
    # A sudden burst (a merchant's campaign email) and the recovery after it.
    "spike": (Stage(60, 20, 5), Stage(120, 200, 50), Stage(240, 20, 50)),
    # Long and moderate: leaks and slow drifts show up here.
    "soak": (Stage(3600, 30, 5),),
}


CAPACITY = Plan()
SHAPE_NAMES = (*SHAPES, "capacity")


def minor_journey_users(shape: str) -> int:
    """Integrators and admins each: a tenth of the shape's smallest stage, and never none.

    Locust's weights alone leave a small shape without them (5 users at 8:1:1 can all be
    shoppers), and a journey that never ran cannot be judged; the rest of the users are shoppers.
    """
    fewest = CAPACITY.start if shape == "capacity" else min(stage.users for stage in SHAPES[shape])
    return max(1, fewest // 10)


def stage_at(shape: str, elapsed: float) -> Stage | None:
    """The stage in force `elapsed` seconds into the run, or None once the shape is over."""
    for stage in SHAPES[shape]:
        if elapsed < stage.end:
            return stage
    return None
