"""List prices of Batch nodes from the Azure Retail Prices API (public, no sign-in).

One small query per VM size and region (serviceName, armRegionName, armSkuName,
priceType 'Consumption'), following `NextPageLink`, stdlib urllib only. Of the answer's
meters it keeps the Linux ones (a productName with "Windows" is the Windows price): the
meter without "Spot"/"Low Priority" in its meterName or skuName is the dedicated price,
the "Spot" one the Spot price ("Low Priority" is kept apart; Batch replaced low-priority
nodes with Spot).

Answers are kept for a day in a small JSON per region and currency in the user cache
folder, with the time they were read. Offline or when the service fails, the last saved
price comes back with its date; with none saved, a `VmPrice` that says "price unknown".
Nothing here raises for a network problem. Calls block: run them on a worker thread.
`BATCHGUI_PRICES_URL` points the client elsewhere (tests).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import platformdirs

from batchgui.core.estimate import VmPrice
from batchgui.core.vm_sizes import arm_sku_name, normal_vm_size
from batchgui.i18n import _, day, tr

log = logging.getLogger(__name__)

DEFAULT_PRICES_URL = "https://prices.azure.com/api/retail/prices"
#: The currencies the Retail Prices API offers (its documentation's "Supported currencies").
CURRENCIES = ("USD", "AUD", "BRL", "CAD", "CHF", "CNY", "DKK", "EUR", "GBP", "INR", "JPY",
              "KRW", "NOK", "NZD", "RUB", "SEK", "TWD")
KEEP_FOR = timedelta(days=1)
TIMEOUT_S = 10.0
MAX_PAGES = 20  # one size in one region is a page or two; never follow links forever

_CLOUD_SUFFIXES = (".batch.azure.com", ".batch.usgovcloudapi.net", ".batch.chinacloudapi.cn")
_REGION = re.compile(r"^[a-z][a-z0-9]{2,40}$")


def is_region_name(text: str) -> bool:
    """Looks like an Azure region name (westeurope, eastus2); not checked against a list."""
    return bool(_REGION.match(text))


def region_from_batch_url(url: str) -> str | None:
    """'https://acct.westeurope.batch.azure.com' -> 'westeurope'; None when the URL can't tell
    (an IP address, localhost, a private endpoint or proxy under another name)."""
    text = url.strip()
    host = (urllib.parse.urlsplit(text if "://" in text else "https://" + text).hostname
            or "").lower().rstrip(".")
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    for suffix in _CLOUD_SUFFIXES:
        if host.endswith(suffix):
            labels = [x for x in host[: -len(suffix)].split(".") if x != "privatelink"]
            if len(labels) == 2 and _REGION.match(labels[1]):
                return labels[1]
    return None


def prices_url() -> str:
    return os.environ.get("BATCHGUI_PRICES_URL") or DEFAULT_PRICES_URL


def price_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("batchgui", appauthor=False)) / "prices"


def supported_currency(code: str) -> bool:
    return code.strip().upper() in CURRENCIES


class PriceListUnavailable(Exception):
    """The price list could not be read; the message says why in a few plain words."""


def pick_prices(items: list[Any], sku: str, region: str) -> dict[str, float]:
    """{'dedicated': .., 'spot': .., 'low_priority': ..} per hour from the answer's items.

    Linux only; where several meters of a kind remain, the plain "Virtual Machines ..."
    product first, then the newest effectiveStartDate, then the higher price.
    """
    best: dict[str, tuple[tuple[bool, str, float], float]] = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        if str(item.get("type", "")) != "Consumption":
            continue
        if str(item.get("unitOfMeasure", "")).strip().lower() != "1 hour":
            continue
        if str(item.get("armSkuName", "")).lower() != sku.lower():
            continue
        if str(item.get("armRegionName", "")).lower() != region.lower():
            continue
        service = item.get("serviceName")
        if service is not None and service != "Virtual Machines":
            continue
        product = str(item.get("productName", ""))
        if "windows" in product.lower():
            continue
        price = item.get("retailPrice")
        if not isinstance(price, int | float) or isinstance(price, bool) or price < 0:
            continue
        names = f"{item.get('meterName', '')} {item.get('skuName', '')}".lower()
        kind = ("spot" if "spot" in names
                else "low_priority" if "low priority" in names else "dedicated")
        plain = product.startswith("Virtual Machines") and "cloud services" not in product.lower()
        rank = (plain, str(item.get("effectiveStartDate", "")), float(price))
        if kind not in best or rank > best[kind][0]:
            best[kind] = (rank, float(price))
    return {kind: price for kind, (_rank, price) in best.items()}


class RetailPrices:
    """Prices per node-hour, read from the Retail Prices API and kept for a day."""

    def __init__(
        self,
        url: str | None = None,
        cache_dir: Path | None = None,
        now: Callable[[], datetime] | None = None,
        timeout: float = TIMEOUT_S,
    ) -> None:
        self.url = url or prices_url()
        self.cache_dir = cache_dir or price_cache_dir()
        self.now = now or (lambda: datetime.now(UTC))
        self.timeout = timeout
        self._lock = threading.Lock()

    # -- the one call ---------------------------------------------------------------------

    def vm_price(self, vm_size: str, region: str, currency: str = "USD") -> VmPrice:
        """Dedicated and Spot list prices of `vm_size` in `region`; never raises for the network."""
        currency = currency.strip().upper() or "USD"
        region = region.strip().lower()
        key = normal_vm_size(vm_size)
        sku = arm_sku_name(vm_size)
        if not supported_currency(currency):
            return VmPrice(key, region, currency, problem=tr(
                "Price unknown: Azure's price list has no prices in {currency}. It offers "
                "{currencies}.", currency=currency, currencies=", ".join(CURRENCIES)))
        if not _REGION.match(region):
            return VmPrice(key, region, currency, problem=tr(
                "Price unknown: '{region}' is not an Azure region name (such as westeurope).",
                region=region))
        now = self.now()
        saved = self._load(region, currency).get(key)
        fetched = _when(saved)
        if saved is not None and fetched is not None and now - KEEP_FOR < fetched <= now:
            return self._from_saved(key, region, currency, saved, fetched)
        try:
            items = self._fetch(sku, region, currency)
        except PriceListUnavailable as exc:
            log.info("price list for %s in %s: %s", sku, region, exc)
            if saved is not None and fetched is not None:
                return self._from_saved(key, region, currency, saved, fetched, why=str(exc))
            return VmPrice(key, region, currency, problem=tr(
                "Price unknown: Azure's price list could not be read ({why}) and no prices are "
                "saved.", why=str(exc)))
        found = pick_prices(items, sku, region)
        entry = {"fetched": now.isoformat(), **found}
        self._save(region, currency, key, entry)
        return self._from_saved(key, region, currency, entry, now)

    def _from_saved(self, key: str, region: str, currency: str, entry: dict[str, Any],
                    fetched: datetime, why: str | None = None) -> VmPrice:
        def price(kind: str) -> float | None:
            value = entry.get(kind)
            return float(value) if isinstance(value, int | float) else None

        dedicated, spot, low = price("dedicated"), price("spot"), price("low_priority")
        problem = None
        if dedicated is None and spot is None:
            problem = tr("Price unknown: Azure's price list has no Linux price for {vm_size} in "
                         "{region}.", vm_size=arm_sku_name(key), region=region)
        elif why is not None:
            problem = tr("Azure's price list could not be read ({why}); these are the prices "
                         "saved on {day}.", why=why, day=day(fetched.date()))
        return VmPrice(key, region, currency, dedicated, spot, low, fetched,
                       saved_copy=why is not None, problem=problem)

    # -- the network ----------------------------------------------------------------------

    def query_url(self, sku: str, region: str, currency: str) -> str:
        where = (f"serviceName eq 'Virtual Machines' and armRegionName eq '{region}' "
                 f"and armSkuName eq '{sku}' and priceType eq 'Consumption'")
        query = urllib.parse.urlencode({"currencyCode": f"'{currency}'", "$filter": where},
                                       quote_via=urllib.parse.quote)
        return f"{self.url}{'&' if '?' in self.url else '?'}{query}"

    def _fetch(self, sku: str, region: str, currency: str) -> list[Any]:
        url: str | None = self.query_url(sku, region, currency)
        items: list[Any] = []
        for _page in range(MAX_PAGES):
            if not url:
                return items
            page = self._get(url)
            got = page.get("Items")
            if not isinstance(got, list):
                raise PriceListUnavailable(_("an answer that is not a price list"))
            items.extend(got)
            link = page.get("NextPageLink")
            url = link if isinstance(link, str) and link.startswith(("http://", "https://")) \
                else None
        if url:
            raise PriceListUnavailable(_("too many pages"))
        return items

    def _get(self, url: str) -> dict[str, Any]:
        request = urllib.request.Request(
            url, headers={"Accept": "application/json", "User-Agent": "BatchGUI"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            raise PriceListUnavailable(tr("the service answered {status}", status=str(exc.code))
                                       ) from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise PriceListUnavailable(_("no answer in time")) from exc
            raise PriceListUnavailable(_("no connection")) from exc
        except (TimeoutError, OSError) as exc:
            raise PriceListUnavailable(_("no answer in time")) from exc
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise PriceListUnavailable(_("an answer that is not a price list")) from exc
        if not isinstance(data, dict):
            raise PriceListUnavailable(_("an answer that is not a price list"))
        return data

    # -- the cache ------------------------------------------------------------------------

    def cache_file(self, region: str, currency: str) -> Path:
        return self.cache_dir / f"{region}-{currency.lower()}.json"

    def _load(self, region: str, currency: str) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.cache_file(region, currency).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        sizes = data.get("sizes") if isinstance(data, dict) else None
        if not isinstance(sizes, dict):
            return {}
        return {k: v for k, v in sizes.items() if isinstance(v, dict)}

    def _save(self, region: str, currency: str, key: str, entry: dict[str, Any]) -> None:
        with self._lock:
            sizes = self._load(region, currency)
            sizes[key] = entry
            data = {"region": region, "currency": currency, "sizes": sizes}
            try:
                _write_atomically(self.cache_file(region, currency),
                                  json.dumps(data, indent=1, sort_keys=True))
            except OSError as exc:  # a read-only cache folder costs a fetch next time, no more
                log.info("could not save prices: %s", exc)


def _when(entry: dict[str, Any] | None) -> datetime | None:
    if entry is None:
        return None
    try:
        moment = datetime.fromisoformat(str(entry.get("fetched")))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _write_atomically(path: Path, text: str) -> None:
    """A reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
