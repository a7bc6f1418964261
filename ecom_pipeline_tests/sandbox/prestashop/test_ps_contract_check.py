"""Replay both recorded PrestaShop 8.2.1 folders against the emulator with the shared contract checker.

``shared/tools/contract_check/contract_check.py`` is the black-box checker validated against the real store (its
README). The one-language folder is replayed against a one-language shop, the two-language folder against an
``en``/``fr`` shop. Every exchange must PASS; the only skips allowed are the checker's policy skips.

How each shop is set up for its recording, and why:

- At least 23 customers: the checker maps product, order and customer ids by role but keeps address ids, and
  ``addresses-get-single`` reads address 27 (customer 23's). The emulator numbers addresses like the recorded store
  (id = customer id + 4), so the address exists once customer 23 does.
- The two-language folder's ``errors-404-deleted-product`` is the GET after a DELETE. The folder's own DELETE
  (``products-delete-with-combinations``, a real catalogue product) is skipped by the checker's policy, so its
  temporary product would never be deleted and the GET would find it on any store. The one-language folder's
  ``products-delete.json`` (the DELETE of the checker's temporary product) is loaded with it to replay the delete.
- ``products-get-price-final-use-tax``: the checker derives the expected keys of a single product from the
  target's ``display=full`` view fetched WITHOUT the request's ``price[...]`` parameters, so the computed fields
  the recording itself shows (``final``, ``final_ht``) always come out as "extra", on the real store too. That one
  assertion is replaced by the same check done right (the view fetched with the same ``price[...]`` parameters);
  every other assertion of that exchange must pass.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ecom_pipeline.sandbox.server import SandboxServer, ShopSpec
from ecom_pipeline_tests.paths import shared_dir
from ecom_pipeline_tests.sandbox.prestashop.conftest import ANCHOR, MULTILANG, RECORDED, PsClient

CHECKER = shared_dir() / "tools" / "contract_check" / "contract_check.py"
PRICE_EXCHANGE = "products-get-price-final-use-tax"
PRICE_KEYS_DETAIL = "missing (truthy in the target's own display=full view): []; extra: ['final', 'final_ht']"

CASES: dict[str, tuple[dict[str, Any], list[Path], int]] = {
    # shop options, recordings given to the checker, minimum replayed exchanges
    "one-language": ({}, [RECORDED], 55),
    "two-language": ({"languages": ["en", "fr"]}, [MULTILANG, RECORDED / "products-delete.json"], 36),
}


@pytest.fixture(scope="module")
def contract_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    if not CHECKER.exists() or not RECORDED.exists() or not MULTILANG.exists():
        pytest.skip(f"contract checker or recordings not found ({CHECKER}, {RECORDED}, {MULTILANG})")
    specs = [
        ShopSpec(
            name=f"ps-contract-{case}",
            platform="prestashop",
            seed=5,
            products=60,
            orders=25,
            customers=30,
            anchor=ANCHOR,
            options=options,
        )
        for case, (options, _, _) in CASES.items()
    ]
    with SandboxServer(shops=specs, cert_dir=tmp_path_factory.mktemp("certs")) as sb:
        yield sb


def _run_checker(base_url: str, key: str, recordings: list[Path], out: Path) -> dict[str, Any]:
    cmd = [
        sys.executable,
        str(CHECKER),
        "--platform",
        "prestashop",
        "--base-url",
        base_url,
        "--recordings",
        *map(str, recordings),
        "--auth",
        f"key:{key}",
        "--json",
        str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(out.read_text())


def _price_keys_match_full_view(client: PsClient, exchange: dict[str, Any]) -> list[str]:
    """The checker's ``keys`` assertion with the request's ``price[...]`` parameters kept on the display=full view."""
    pid = exchange["request"]["url"].split("?")[0].rstrip("/").rsplit("/", 1)[1]
    recorded = json.loads((MULTILANG / f"{PRICE_EXCHANGE}.json").read_text())["request"]["query"]
    prices = {k: v for k, v in recorded.items() if k.startswith("price[")}
    single = client.json(f"/products/{pid}", **prices)["product"]
    full = client.json("/products", display="full", **{"filter[id]": f"[{pid}]"}, **prices)["products"][0]
    truthy = {k for k, v in full.items() if k == "id" or v not in ("", "0", None, 0, False, [], {})}
    problems = [f"missing {k}" for k in sorted(truthy - set(single))]
    problems += [f"extra {k}" for k in sorted(set(single) - set(full))]
    return problems + [f"no {k}" for k in ("final", "final_ht") if k not in single]


@pytest.mark.parametrize("case", list(CASES))
def test_every_recorded_prestashop_exchange_passes_the_contract_checker(
    case: str, contract_sandbox: SandboxServer, tmp_path: Path
) -> None:
    """Prevents any drift from the real PrestaShop in a recorded exchange (status, headers, errors, shapes, paging)."""
    _, recordings, minimum = CASES[case]
    shop = contract_sandbox.shop(f"ps-contract-{case}")
    result = _run_checker(shop.http_url + "/api", shop.credentials["api_key"], recordings, tmp_path / "out.json")
    failed = []
    for e in result["exchanges"]:
        if e["status"] != "FAIL":
            continue
        bad = [a for a in e["assertions"] if a["scored"] and not a["ok"]]
        if e["file"] == PRICE_EXCHANGE and [(a["name"], a["detail"]) for a in bad] == [("keys", PRICE_KEYS_DETAIL)]:
            problems = _price_keys_match_full_view(PsClient(shop), e)
            assert problems == [], problems
            continue
        failed.append(f"{e['file']}: {e['reason']}")
    assert failed == [], "\n".join(failed)
    not_played = [
        f"{e['file']}: {e['reason']}"
        for e in result["exchanges"]
        if e["status"] == "SKIP" and e.get("skip_kind") != "policy"
    ]
    assert not_played == [], "\n".join(not_played)
    recorded = {p.stem for d in recordings for p in ([d] if d.is_file() else d.glob("*.json"))}
    seen = {e["file"] for e in result["exchanges"]}
    assert recorded == seen, recorded ^ seen
    assert result["summary"]["replayed"] >= minimum
