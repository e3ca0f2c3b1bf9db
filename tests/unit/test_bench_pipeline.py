"""bench/pipeline.py's target arithmetic (the benchmark itself needs the stack)."""

from __future__ import annotations

from bench.pipeline import paired_ratios, targets


def _variant(sustained: float, p99: float | None) -> dict:
    return {"sustained": {"msgs_per_s": sustained, "worker_msgs_per_cpu_s": 100.0},
            "latency": {"p99_s": p99}}


def test_ratio_and_its_range_over_the_two_baseline_halves() -> None:
    enrich = {"msgs_per_s": 250.0, "msgs_per_cpu_s": 125.0,
              "before_pipeline": {"msgs_per_s": 200.0}, "after_pipeline": {"msgs_per_s": 300.0}}
    got = targets(_variant(180.0, 0.5), enrich)
    assert got["sustained_vs_enrich_only"] == 0.72 and got["sustained_ok"] is True
    assert got["sustained_vs_enrich_only_range"] == [0.6, 0.9]
    assert got["worker_cpu_efficiency_vs_enrich_only"] == 0.8
    assert got["p99_under_1s_ok"] is True


def test_missing_latency_or_halves_never_passes_silently() -> None:
    got = targets(_variant(100.0, None), {"msgs_per_s": 250.0, "msgs_per_cpu_s": 125.0})
    assert got["sustained_ok"] is False and got["p99_under_1s_ok"] is False
    assert got["sustained_vs_enrich_only_range"] is None


def test_each_phase_is_paired_with_the_slices_on_either_side() -> None:
    got = paired_ratios([140.0, 180.0, 150.0], [200.0, 200.0, 250.0, 250.0])
    # 140 / 200, 180 / 225, 150 / 250
    assert got["ratios"] == [0.7, 0.8, 0.6]
    assert got["median_ratio"] == 0.7
    assert got["pairs_at_or_above_0_70"] == 2


def test_median_of_an_even_number_of_pairs() -> None:
    assert paired_ratios([120.0, 160.0], [200.0, 200.0, 200.0])["median_ratio"] == 0.7


def test_paired_median_is_the_verdict_when_present() -> None:
    enrich = {"msgs_per_s": 250.0, "msgs_per_cpu_s": 125.0}
    variant = {**_variant(150.0, 0.5), "paired": {"median_ratio": 0.71}}
    got = targets(variant, enrich)
    assert got["sustained_ok"] is False  # the single phase: 0.6
    assert got["paired_median_ratio"] == 0.71 and got["paired_ok"] is True
    assert "paired_ok" not in targets(_variant(150.0, 0.5), enrich)
