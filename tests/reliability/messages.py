"""Synthetic inbound traffic for the fault tests: varied, reproducible, with known ids.

The texts are assembled from small phrase lists (written for these tests, not taken
from any data set) so the real models see realistic variety: calm questions, praise,
and rants with threats to cancel. A small share of payloads is bad (from the corpus)
so dead-lettering runs under fault too. Ids are unique per run (``run`` tag), so two
tests never see each other's documents even on a shared index.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tests.data.bad_inputs.corpus import load as load_corpus

CAUSES = [
    "I was charged twice for the same bill", "my parcel never arrived",
    "the internet has been down since Monday", "your agent hung up on me",
    "I waited 50 minutes on hold", "the app crashes every time I log in",
    "my contract price went up without warning", "the router you sent is broken",
    "nobody answered my three emails", "the refund still hasn't come through",
]
RANT = [
    "This is absolutely unacceptable!!! {cause} and I am DONE. Cancelling my contract today.",
    "Third time contacting you: {cause}. Furious. I will report you to the ombudsman.",
    "{cause}. Worst service ever, fix it NOW or I'm leaving for a competitor.",
    "I am so angry, {cause} and no one cares. Disgraceful.",
]
CALM = [
    "Hi, quick question: {cause}, could you check please?",
    "Just letting you know {cause}. Thanks.",
    "Is there an update? {cause}.",
]
HAPPY = [
    "Thanks, the engineer was brilliant and fixed everything quickly!",
    "Great service today, very happy with the new plan.",
    "Love the new app, so much easier to pay my bill.",
    "Sorted in five minutes, thank you Sam!",
]
BAD_CASES = ("invalid_json_truncated", "json_array", "missing_body", "number_body",
             "unknown_schema_version", "empty_body", "invalid_utf8_in_body")


@dataclass(frozen=True)
class Message:
    """One record to produce: which inbound topic, key, bytes, and what must come out."""

    source: str  # "sms" | "survey"
    key: bytes | None
    value: bytes
    feedback_id: str | None  # None for bad payloads (they must be dead-lettered)


def make_messages(n: int, run: str, *, seed: int = 7, bad_every: int = 40) -> list[Message]:
    """``n`` messages; every ``bad_every``-th one is a bad payload from the corpus."""
    rng = random.Random(seed)
    bad = [c for c in load_corpus() if c.case in BAD_CASES]
    start = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    out: list[Message] = []
    for i in range(n):
        if bad_every and i % bad_every == bad_every - 1:
            case = bad[(i // bad_every) % len(bad)]
            out.append(Message("sms", None, case.payload, None))
            continue
        cause = rng.choice(CAUSES)
        roll = rng.random()
        if roll < 0.25:
            text = rng.choice(RANT).format(cause=cause)
        elif roll < 0.7:
            text = rng.choice(CALM).format(cause=cause)
        else:
            text = rng.choice(HAPPY)
        at = (start + timedelta(seconds=7 * i)).isoformat().replace("+00:00", "Z")
        customer = f"C{rng.randrange(2000)}"
        if i % 10 == 3:
            rid = f"R-{run}-{i}"
            score = rng.randrange(0, 5) if roll < 0.25 else rng.randrange(5, 11)
            rec = {"response_id": rid, "survey_id": "S-rel", "customer_id": customer,
                   "brand": "acme-mobile", "submitted_at": at, "kind": "nps", "score": score,
                   "comment": text}
            out.append(Message("survey", rid.encode(), json.dumps(rec).encode(), f"survey:{rid}"))
        else:
            mid = f"SM-{run}-{i}"
            sender = f"+4477009{rng.randrange(10**5):05d}"
            rec = {"message_id": mid, "from": sender, "to": "+447700900000", "body": text,
                   "received_at": at, "brand": "acme-mobile", "customer_id": customer}
            out.append(Message("sms", sender.encode(), json.dumps(rec).encode(), f"sms:{mid}"))
    return out
