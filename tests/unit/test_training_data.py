"""The weak customer labels and the customer dev set stay separate from what is tested."""

from __future__ import annotations

from collections import Counter

from bench.data import customer_sms
from training import data


def test_banking77_intent_map_is_one_label_per_intent() -> None:
    assert not data.BANKING77_NEGATIVE & data.BANKING77_NEUTRAL
    assert len(data.BANKING77_NEGATIVE) == 30 and len(data.BANKING77_NEUTRAL) == 30


def test_customer_dev_is_balanced_and_apart_from_the_test_sms() -> None:
    dev = data.customer_dev()
    assert Counter(dev.labels) == {0: 20, 1: 20, 2: 20}
    test = {t.lower().strip() for t in customer_sms().texts}
    assert not {t.lower().strip() for t in dev.texts} & test
