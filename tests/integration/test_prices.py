"""The Retail Prices client against a local fake of the API, in the documented shape.

The fake filters on `$filter` (`name eq 'value'` clauses, case-insensitive as the API's
default version is), pages its answers with `NextPageLink` and `Count`, and serves Linux,
Windows, Spot and Low Priority meters, a reservation and a Dev/Test price, like the
real answer for a D2s v3.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from batchgui.targets.azure.prices import (
    CURRENCIES,
    RetailPrices,
    pick_prices,
    region_from_batch_url,
)

T0 = datetime(2026, 11, 29, 9, 30, tzinfo=UTC)


def item(sku: str, meter: str, product: str, price: float, *, region: str = "westeurope",
         kind: str = "Consumption", unit: str = "1 Hour") -> dict[str, Any]:
    return {
        "currencyCode": "USD", "tierMinimumUnits": 0.0, "retailPrice": price,
        "unitPrice": price, "armRegionName": region, "location": "EU West",
        "effectiveStartDate": "2024-03-01T00:00:00Z", "meterId": f"id-{meter}-{product}",
        "meterName": meter, "productId": "DZH318Z0BQ4B", "skuId": "DZH318Z0BQ4B/00H3",
        "productName": product, "skuName": meter, "serviceName": "Virtual Machines",
        "serviceId": "DZH313Z7MMC8", "serviceFamily": "Compute", "unitOfMeasure": unit,
        "type": kind, "isPrimaryMeterRegion": True, "armSkuName": sku,
    }


LINUX = "Virtual Machines DSv3 Series"
WINDOWS = "Virtual Machines DSv3 Series Windows"
CATALOGUE = [
    item("Standard_D2s_v3", "D2s v3 Spot", WINDOWS, 0.0404),
    item("Standard_D2s_v3", "D2s v3", WINDOWS, 0.212),
    item("Standard_D2s_v3", "D2s v3 Low Priority", LINUX, 0.0221),
    item("Standard_D2s_v3", "D2s v3", LINUX, 0.111),
    item("Standard_D2s_v3", "D2s v3 Low Priority", WINDOWS, 0.0424),
    item("Standard_D2s_v3", "D2s v3 Spot", LINUX, 0.0222),
    item("Standard_D2s_v3", "D2s v3", LINUX, 0.055, kind="DevTestConsumption"),
    item("Standard_D2s_v3", "D2s v3", LINUX, 570.0, kind="Reservation", unit="1 Year"),
    item("Standard_D2s_v3", "D2s v3", LINUX, 0.096, region="eastus"),
    item("Standard_D4s_v3", "D4s v3", LINUX, 0.222),
]
EUR_RATE = 0.9


class FakeRetailPrices:
    """An http.server on 127.0.0.1:0; `status` other than 200 answers every request so."""

    def __init__(self, items: list[dict[str, Any]], page_size: int = 2) -> None:
        self.items = items
        self.page_size = page_size
        self.status = 200
        self.requests: list[dict[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                fake.answer(self)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/api/retail/prices"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        query = {k: v[0] for k, v in urllib.parse.parse_qs(
            urllib.parse.urlsplit(handler.path).query).items()}
        self.requests.append(query)
        if self.status != 200:
            body = b'{"Error": {"Code": "ServiceUnavailable"}}'
            handler.send_response(self.status)
        else:
            body = json.dumps(self.page(query)).encode()
            handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def page(self, query: dict[str, str]) -> dict[str, Any]:
        clauses = dict(re.findall(r"(\w+) eq '([^']*)'", query.get("$filter", "")))
        currency = query.get("currencyCode", "'USD'").strip("'")
        names = {"priceType": "type"}
        chosen = [dict(it) for it in self.items
                  if all(str(it.get(names.get(k, k), "")).lower() == v.lower()
                         for k, v in clauses.items())]
        for it in chosen:
            it["currencyCode"] = currency
            if currency == "EUR":
                it["retailPrice"] = it["unitPrice"] = round(it["retailPrice"] * EUR_RATE, 4)
        skip = int(query.get("$skip", "0"))
        page = chosen[skip:skip + self.page_size]
        more = skip + self.page_size < len(chosen)
        next_query = urllib.parse.urlencode({**query, "$skip": str(skip + self.page_size)})
        return {
            "BillingCurrency": currency, "CustomerEntityId": "Default",
            "CustomerEntityType": "Retail", "Items": page,
            "NextPageLink": f"{self.url}?{next_query}" if more else None,
            "Count": len(page),
        }

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def fake() -> Iterator[FakeRetailPrices]:
    server = FakeRetailPrices(CATALOGUE)
    yield server
    server.stop()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/retail/prices"


def test_picks_the_linux_dedicated_and_spot_meters_across_pages(fake: FakeRetailPrices,
                                                                tmp_path: Path) -> None:
    prices = RetailPrices(fake.url, tmp_path, now=Clock(T0))
    price = prices.vm_price("standard_d2s_v3", "westeurope")
    assert (price.dedicated_per_hour, price.spot_per_hour) == (0.111, 0.0222)
    assert price.low_priority_per_hour == 0.0221
    assert price.currency == "USD" and price.as_of == date(2026, 11, 29)
    assert price.problem is None and not price.saved_copy
    # six meters of this size and region are Consumption: three pages of two
    assert len(fake.requests) == 3
    first = fake.requests[0]
    assert first["currencyCode"] == "'USD'"
    assert first["$filter"] == ("serviceName eq 'Virtual Machines' and armRegionName eq "
                                "'westeurope' and armSkuName eq 'Standard_D2s_v3' and "
                                "priceType eq 'Consumption'")


def test_a_currency_the_api_offers(fake: FakeRetailPrices, tmp_path: Path) -> None:
    price = RetailPrices(fake.url, tmp_path, now=Clock(T0)).vm_price(
        "Standard_D2s_v3", "westeurope", "eur")
    assert price.currency == "EUR"
    assert price.dedicated_per_hour == pytest.approx(0.111 * EUR_RATE, abs=1e-4)
    assert fake.requests[0]["currencyCode"] == "'EUR'"


def test_a_currency_it_does_not_offer_is_a_price_unknown_without_asking(
        fake: FakeRetailPrices, tmp_path: Path) -> None:
    price = RetailPrices(fake.url, tmp_path, now=Clock(T0)).vm_price(
        "standard_d2s_v3", "westeurope", "XYZ")
    assert price.dedicated_per_hour is None
    assert price.problem is not None and "XYZ" in price.problem and "SEK" in price.problem
    assert fake.requests == []
    assert "SEK" in CURRENCIES and "USD" in CURRENCIES


def test_an_empty_answer_says_there_is_no_price(fake: FakeRetailPrices, tmp_path: Path) -> None:
    price = RetailPrices(fake.url, tmp_path, now=Clock(T0)).vm_price(
        "standard_d64s_v3", "westeurope")
    assert (price.dedicated_per_hour, price.spot_per_hour) == (None, None)
    assert price.problem == ("Price unknown: Azure's price list has no Linux price for "
                             "Standard_D64s_v3 in westeurope.")
    assert len(fake.requests) == 1


def test_a_server_error_without_saved_prices_is_price_unknown(fake: FakeRetailPrices,
                                                              tmp_path: Path) -> None:
    fake.status = 503
    price = RetailPrices(fake.url, tmp_path, now=Clock(T0)).vm_price(
        "standard_d2s_v3", "westeurope")
    assert price.dedicated_per_hour is None and price.fetched_at is None
    assert price.problem == ("Price unknown: Azure's price list could not be read (the "
                             "service answered 503) and no prices are saved.")


def test_no_network_without_saved_prices_is_price_unknown(tmp_path: Path) -> None:
    price = RetailPrices(closed_port_url(), tmp_path, now=Clock(T0)).vm_price(
        "standard_d2s_v3", "westeurope")
    assert price.dedicated_per_hour is None
    assert price.problem is not None and "no connection" in price.problem


def test_prices_are_kept_for_a_day_with_the_date_they_were_read(
        fake: FakeRetailPrices, tmp_path: Path) -> None:
    clock = Clock(T0)
    prices = RetailPrices(fake.url, tmp_path, now=clock)
    prices.vm_price("standard_d2s_v3", "westeurope")
    asked = len(fake.requests)
    saved = json.loads(prices.cache_file("westeurope", "USD").read_text())
    assert saved["sizes"]["standard_d2s_v3"]["fetched"] == T0.isoformat()

    clock.now = T0 + timedelta(hours=23, minutes=59)
    again = prices.vm_price("Standard_D2s_v3", "westeurope")
    assert len(fake.requests) == asked  # from the cache
    assert again.dedicated_per_hour == 0.111 and again.as_of == date(2026, 11, 29)

    # a fresh client (the next app start) reads the same file
    assert RetailPrices(fake.url, tmp_path, now=clock).vm_price(
        "standard_d2s_v3", "westeurope").spot_per_hour == 0.0222
    assert len(fake.requests) == asked

    clock.now = T0 + timedelta(days=1, minutes=1)
    fake.items = [dict(it, retailPrice=0.12) if it["retailPrice"] == 0.111 else it
                  for it in CATALOGUE]
    newer = prices.vm_price("standard_d2s_v3", "westeurope")
    assert len(fake.requests) > asked
    assert newer.dedicated_per_hour == 0.12 and newer.as_of == date(2026, 11, 30)


def test_offline_the_last_saved_price_comes_back_with_its_date(
        fake: FakeRetailPrices, tmp_path: Path) -> None:
    clock = Clock(T0)
    RetailPrices(fake.url, tmp_path, now=clock).vm_price("standard_d2s_v3", "westeurope")
    clock.now = T0 + timedelta(days=9)
    for url in (closed_port_url(), fake.url):
        fake.status = 500
        price = RetailPrices(url, tmp_path, now=clock).vm_price("standard_d2s_v3", "westeurope")
        assert price.saved_copy and price.dedicated_per_hour == 0.111
        assert price.as_of == date(2026, 11, 29)
        assert price.problem is not None and "saved on 2026-11-29" in price.problem


def test_the_environment_points_the_client_elsewhere(
        fake: FakeRetailPrices, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATCHGUI_PRICES_URL", fake.url)
    price = RetailPrices(cache_dir=tmp_path, now=Clock(T0)).vm_price("d4s_v3", "WestEurope")
    assert price.dedicated_per_hour == 0.222 and price.spot_per_hour is None
    assert len(fake.requests) == 1


def test_not_a_price_list_is_price_unknown(tmp_path: Path) -> None:
    server = FakeRetailPrices([])
    server.page = lambda query: ["not", "a", "price", "list"]  # type: ignore[assignment,method-assign]
    try:
        price = RetailPrices(server.url, tmp_path, now=Clock(T0)).vm_price(
            "standard_d2s_v3", "westeurope")
    finally:
        server.stop()
    assert price.problem is not None and "not a price list" in price.problem


def test_the_newest_plain_virtual_machines_meter_wins() -> None:
    items = [
        item("Standard_B2pls_v2", "B2pls v2", "Bpsv2 Series Cloud Services", 0.0428),
        dict(item("Standard_B2pls_v2", "B2pls v2", "Virtual Machines Bpsv2 Series", 0.03),
             effectiveStartDate="2023-01-01T00:00:00Z"),
        item("Standard_B2pls_v2", "B2pls v2", "Virtual Machines Bpsv2 Series", 0.0336),
    ]
    assert pick_prices(items, "Standard_B2pls_v2", "westeurope") == {"dedicated": 0.0336}


@pytest.mark.parametrize(("url", "region"), [
    ("https://mybatch.westeurope.batch.azure.com", "westeurope"),
    ("https://MyBatch.SwedenCentral.batch.azure.com/", "swedencentral"),
    ("mybatch.eastus2.batch.azure.com", "eastus2"),
    ("https://acct.usgovvirginia.batch.usgovcloudapi.net", "usgovvirginia"),
    ("https://acct.westeurope.privatelink.batch.azure.com", "westeurope"),
    ("http://127.0.0.1:43210", None),
    ("http://localhost:8080", None),
    ("https://batch.internal.example.com", None),
    ("https://acct.batch.azure.com", None),
])
def test_region_from_the_batch_url(url: str, region: str | None) -> None:
    assert region_from_batch_url(url) == region
