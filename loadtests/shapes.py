"""Load profiles as data (DESIGN §15). Each stage: until `end` seconds, `users` at `spawn_rate`."""

from typing import NamedTuple


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
    # For the test suite: seconds, not minutes; ten users so every journey gets one.
    "ci": (Stage(10, 10, 10),),
}


def stage_at(shape: str, elapsed: float) -> Stage | None:
    """The stage in force `elapsed` seconds into the run, or None once the shape is over."""
    for stage in SHAPES[shape]:
        if elapsed < stage.end:
            return stage
    return None
