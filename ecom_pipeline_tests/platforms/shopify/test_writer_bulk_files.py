"""The Shopify writer's bulk mutation files: the JSONL it stages and the result lines it reads back."""

from __future__ import annotations

import json

from ecom_pipeline.platforms.shopify.writer import bulk_results, jsonl_files


def test_jsonl_files_split_below_the_size_limit_and_keep_every_line_in_order() -> None:
    """Prevents a line lost or reordered between files: result line n of a file must be input start + n."""
    lines = [{"input": {"title": f"P{i}", "html": "é" * 10}} for i in range(10)]
    one = len(json.dumps(lines[0], separators=(",", ":"), ensure_ascii=False).encode()) + 1
    files = list(jsonl_files(lines, max_bytes=one * 3))
    assert [start for start, _ in files] == [0, 3, 6, 9]
    assert all(len(data) <= one * 3 for _, data in files)
    decoded = [json.loads(raw) for _, data in files for raw in data.splitlines()]
    assert decoded == lines
    assert list(jsonl_files(lines)) == [(0, b"".join(data for _, data in files))]


def test_a_line_larger_than_the_limit_still_gets_a_file_of_its_own() -> None:
    files = list(jsonl_files([{"a": "x" * 50}, {"b": 1}], max_bytes=10))
    assert [start for start, _ in files] == [0, 1]


def test_bulk_results_map_each_result_line_to_its_input_by_line_number_in_any_order() -> None:
    """Prevents a product's answer from being recorded for another input, a GraphQL error on one line from being
    dropped, and an input without a result line from vanishing instead of being rejected (and retried)."""
    records = [
        {"data": {"productSet": {"product": {"id": "gid://shopify/Product/2"}, "userErrors": []}}, "__lineNumber": 1},
        {
            "errors": [{"message": "Variable $input of type ProductSetInput! was provided invalid value"}],
            "__lineNumber": 2,
        },
        {
            "data": {"productSet": {"product": None, "userErrors": [{"code": "OPTIONS_OVER_LIMIT", "message": "x"}]}},
            "__lineNumber": 0,
        },
        {"data": {"productSet": {"product": {"id": "gid://shopify/Product/9"}}}, "__lineNumber": 7},  # out of range
    ]
    out = bulk_results(records, "productSet", 4)
    assert out[0] == ({"product": None, "userErrors": [{"code": "OPTIONS_OVER_LIMIT", "message": "x"}]}, [])
    assert out[1] == ({"product": {"id": "gid://shopify/Product/2"}, "userErrors": []}, [])
    assert out[2][0] is None and out[2][1][0]["code"] == "GRAPHQL_ERROR"
    assert "invalid value" in out[2][1][0]["message"]
    assert out[3][0] is None and out[3][1][0]["code"] == "NO_RESULT"


def test_the_bulk_path_is_gated_on_versions_that_poll_an_operation_by_id() -> None:
    """Prevents the writer from starting a bulk mutation it cannot follow: before 2026-01 there is no
    ``bulkOperation(id:)`` (and ``currentBulkOperation`` is deprecated), so those versions push per call."""
    from ecom_pipeline.platforms.shopify.versions import has_feature

    assert not has_feature("2025-10", "bulk_product_set")
    assert has_feature("2026-01", "bulk_product_set") and has_feature("2026-04", "bulk_product_set")
    assert has_feature("unstable", "bulk_product_set")
