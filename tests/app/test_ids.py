import base64
import os
from collections import Counter
from itertools import pairwise

from app.ids import encode, new_id, new_request_id

# Crockford's base32: digits and capitals without I, L, O and U.
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _rfc4648_crockford(millis: int, randomness: bytes) -> str:
    """How ids were encoded before: base32 of the 48-bit time followed by 80 random bits."""
    encoded = base64.b32encode(millis.to_bytes(6, "big") + randomness).decode()[:26]
    return encoded.translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", CROCKFORD))


def test_the_time_is_encoded_as_in_the_ids_already_stored() -> None:
    # Old and new ids must keep sorting together: the first ten characters (the time and two
    # random bits) are the same as the old encoding's.
    for millis in (0, 1, 1_700_000_000_000, 2**48 - 1):
        for randomness in (bytes(17), b"\xff" * 17, os.urandom(17)):
            old = _rfc4648_crockford(millis, randomness[:10])
            assert encode(millis, randomness)[:10] == old[:10]


def test_ids_sort_by_creation_time_and_are_well_formed() -> None:
    assert encode(1_700_000_000_000, b"\xff" * 17) < encode(1_700_000_000_001, bytes(17))
    ids = [new_id("ses") for _ in range(2000)]
    assert all(len(value) == 30 and value.startswith("ses_") for value in ids)
    assert all(set(value[4:]) <= set(CROCKFORD) for value in ids)
    assert len(set(ids)) == len(ids)


def test_the_random_part_uses_every_character_evenly() -> None:
    # Session ids are capabilities (anyone with the page's publishable key and an id can read
    # that chat), so the random part must be uniform, with no character favoured.
    counts = Counter("".join(new_id("ses")[14:] for _ in range(4000)))
    assert set(counts) == set(CROCKFORD)
    expected = 4000 * 16 / 32
    assert all(abs(count - expected) < expected * 0.15 for count in counts.values())


def test_request_ids_are_unique_time_ordered_and_need_no_randomness_per_id() -> None:
    ids = [new_request_id() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    assert all(len(value) == 30 and value.startswith("req_") for value in ids)
    assert all(set(value[4:]) <= set(CROCKFORD) for value in ids)
    # The counter follows the time within a millisecond (but for its one wrap-around).
    assert sum(earlier > later for earlier, later in pairwise(ids)) <= 1
    assert len({value[14:22] for value in ids}) == 1  # one process, one tag


def test_a_forked_process_gets_its_own_request_id_tag() -> None:
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.write(write_end, new_request_id().encode())
        os._exit(0)
    os.waitpid(child, 0)
    from_child = os.read(read_end, 64).decode()
    os.close(read_end)
    os.close(write_end)
    assert from_child[14:22] != new_request_id()[14:22]
