"""Keyed hashes that stand in for personal identifiers (HMAC-SHA256).

Why keyed: a plain hash of a customer id can be reversed by hashing every id the attacker
can guess (ids are short and structured); an HMAC cannot without the key. The same key
always gives the same pseudonym, so a customer's contacts still link up (repeat-contact
counts, the console's "earlier contacts", Kafka keys), and the brand, which holds the key,
can compute the pseudonym of a customer it knows. Each use has its own ``purpose`` so a
pseudonym never equals the digest of some other field's value. Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import hmac

from schemas.records import InboundSMS, SurveyReply

#: what every customer pseudonym starts with (and how an operator recognises one)
CUSTOMER_PREFIX = "cid_"
#: hex digits kept of the 64: 128 bits, collision-free for any realistic customer base
DIGEST_HEX_CHARS = 32
MIN_KEY_BYTES = 16


def keyed_digest(data: bytes, key: bytes, purpose: str) -> str:
    """HMAC-SHA256 of ``data`` under ``key``, separated by ``purpose``; full hex digest."""
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"pseudonym key must be at least {MIN_KEY_BYTES} bytes")
    mac = hmac.new(key, purpose.encode("utf-8") + b"\x00", hashlib.sha256)
    mac.update(data)
    return mac.hexdigest()


def pseudonymise_customer(customer_id: str, key: bytes) -> str:
    """The pseudonym of one customer id: ``cid_`` + 32 hex digits, stable under one key."""
    digest = keyed_digest(customer_id.encode("utf-8"), key, "customer_id")
    return CUSTOMER_PREFIX + digest[:DIGEST_HEX_CHARS]


def pseudonymise_record(item: InboundSMS | SurveyReply, key: bytes) -> InboundSMS | SurveyReply:
    """``item`` with its ``customer_id`` replaced by the pseudonym (unchanged when it has
    none): the one step the worker and ``voc enrich`` both take before anything else."""
    if not item.customer_id:
        return item
    return item.model_copy(update={"customer_id": pseudonymise_customer(item.customer_id, key)})
