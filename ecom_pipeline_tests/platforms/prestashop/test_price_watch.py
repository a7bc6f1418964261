"""The price watch's decision (which products to re-read), without a shop: the cases the emulator tests do not reach.

Failures prevented: a catalogue-wide specific price (``id_product`` 0) changing no product; an unreadable window date
failing the whole product poll; a window that closed (``to`` passed) leaving the reduced price in the hub; the first
poll after an upgrade (no stored digests) missing what changed before it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ecom_pipeline.platforms.prestashop.extract import PriceWatch, watched_changes

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)  # 13:00 in Paris
BEFORE = {
    "digests": {"1": "a", "2": "b"},
    "global": "g",
    "polled_at": datetime(2026, 12, 4, 11, 0, tzinfo=UTC).isoformat(),
}


def test_nothing_changed_re_reads_nothing() -> None:
    watch = PriceWatch(digests={"1": "a", "2": "b"}, global_digest="g", windows=[])
    assert watched_changes(watch, BEFORE, "Europe/Paris", NOW) == (set(), False)


def test_changed_new_and_vanished_digests_are_re_read() -> None:
    watch = PriceWatch(digests={"1": "a2", "3": "c"}, global_digest="g", windows=[])
    assert watched_changes(watch, BEFORE, "Europe/Paris", NOW) == ({"1", "2", "3"}, False)


def test_a_catalogue_wide_specific_price_re_reads_everything() -> None:
    watch = PriceWatch(digests={"1": "a", "2": "b"}, global_digest="g2", windows=[])
    assert watched_changes(watch, BEFORE, "Europe/Paris", NOW)[1] is True


def test_a_window_that_closed_since_the_last_poll_re_reads_its_product() -> None:
    # to = 12:30 Paris = 11:30 UTC: after the last poll (11:00 UTC), before now (12:00 UTC).
    watch = PriceWatch(
        digests={"1": "a", "2": "b"}, global_digest="g", windows=[("2", "0000-00-00 00:00:00", "2026-12-04 12:30:00")]
    )
    assert watched_changes(watch, BEFORE, "Europe/Paris", NOW) == ({"2"}, False)
    # A window that closes tomorrow changes nothing yet.
    later = PriceWatch(
        digests={"1": "a", "2": "b"}, global_digest="g", windows=[("2", "0000-00-00 00:00:00", "2026-12-05 12:30:00")]
    )
    assert watched_changes(later, BEFORE, "Europe/Paris", NOW) == (set(), False)


def test_an_unreadable_window_date_re_reads_its_product_instead_of_failing() -> None:
    watch = PriceWatch(digests={"1": "a", "2": "b"}, global_digest="g", windows=[("1", "yesterday", "0000-00-00")])
    assert watched_changes(watch, BEFORE, "Europe/Paris", NOW) == ({"1"}, False)


def test_without_a_baseline_every_watched_product_is_re_read_once() -> None:
    watch = PriceWatch(digests={"1": "a", "5": "e"}, global_digest="g", windows=[])
    assert watched_changes(watch, None, "Europe/Paris", NOW) == ({"1", "5"}, False)
