"""A realistic, deterministic demo shop in the generic schema.

``generate(seed, customers, ...)`` builds every table as numpy arrays; ``write(engine, shop)``
puts them into any SQLAlchemy database. The same seed and ``now`` give the same shop, row for
row. What is planted, so that the analyses have something true to find:

* interest personas (runners, home cooks, gamers, ...), each with a main and a second
  category; every active customer browses, carts and buys mostly from their persona;
* value tiers (a few heavy buyers, many occasional ones), never-buyers, customers whose buying
  started in the last 90 days, sign-ups of the last 90 days;
* seasonality (November/December peak), cities/regions/countries and acquisition sources;
* "bought together" companions (a product often bought with a specific other one);
* abandoned carts;
* dirty rows a real shop has: NULL, invalid and duplicate emails, orphan product and
  customer ids, HTML in a product name, zero prices, inactive products and customers,
  cancelled/pending orders and a future-dated view.

The truth (each customer's persona and tier) is returned with the shop, not written to it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

CATEGORIES = [
    "Running", "Sports nutrition", "Hiking & camping", "Cycling", "Kitchen", "Coffee & tea",
    "Garden", "Pet supplies", "Video games", "Electronics", "Toys & kids", "Books",
]
# (persona name, main category, second category, main share)
PERSONAS = [
    ("Runners", "Running", "Sports nutrition", 0.65),
    ("Outdoor people", "Hiking & camping", "Cycling", 0.65),
    ("Home cooks", "Kitchen", "Coffee & tea", 0.62),
    ("Gardeners", "Garden", "Pet supplies", 0.65),
    ("Gamers", "Video games", "Electronics", 0.65),
    ("Parents", "Toys & kids", "Books", 0.62),
    ("Coffee lovers", "Coffee & tea", "Kitchen", 0.65),
    ("Cyclists", "Cycling", "Sports nutrition", 0.65),
]
BRANDS = [
    ("Stride", ["Running", "Sports nutrition"]), ("PeakLine", ["Hiking & camping", "Cycling"]),
    ("Velo Nord", ["Cycling"]), ("TrailFox", ["Hiking & camping", "Running"]),
    ("NutriMax", ["Sports nutrition"]), ("Casa Cook", ["Kitchen"]), ("Brewhouse", ["Coffee & tea", "Kitchen"]),
    ("Greenthumb", ["Garden"]), ("Pawly", ["Pet supplies"]), ("Pixel Forge", ["Video games"]),
    ("Voltix", ["Electronics", "Video games"]), ("Tiny Steps", ["Toys & kids"]), ("Paperleaf", ["Books"]),
    ("Nordic Home", ["Kitchen", "Garden"]), ("Aroma", ["Coffee & tea"]), ("Bricks & Co", ["Toys & kids"]),
    ("Kettle & Co", ["Kitchen", "Coffee & tea"]), ("Wildpath", ["Hiking & camping"]),
    ("Byte", ["Electronics"]), ("Inkwell", ["Books", "Toys & kids"]),
]
PRODUCT_WORDS = {
    "Running": ["Road shoe", "Trail shoe", "Running socks", "Running jacket", "Race belt", "Headlamp"],
    "Sports nutrition": ["Energy gel", "Protein powder", "Electrolyte tabs", "Recovery bar", "Shaker"],
    "Hiking & camping": ["Tent", "Sleeping bag", "Backpack", "Trekking poles", "Camping stove"],
    "Cycling": ["Bike helmet", "Bike light", "Saddle bag", "Cycling gloves", "Inner tube"],
    "Kitchen": ["Chef's knife", "Cast iron pan", "Cutting board", "Dutch oven", "Spice rack"],
    "Coffee & tea": ["Espresso beans", "Pour-over kit", "Green tea", "Milk frother", "Grinder"],
    "Garden": ["Pruning shears", "Seed set", "Watering can", "Garden gloves", "Raised bed"],
    "Pet supplies": ["Dog leash", "Cat tree", "Pet bed", "Chew toy", "Food bowl"],
    "Video games": ["Adventure game", "Racing game", "Controller", "Gaming headset", "Game card"],
    "Electronics": ["USB-C charger", "Power bank", "Earbuds", "Smart plug", "HDMI cable"],
    "Toys & kids": ["Building blocks", "Puzzle", "Plush bear", "Balance bike", "Craft kit"],
    "Books": ["Novel", "Cookbook", "Travel guide", "Picture book", "Biography"],
}
CATEGORY_PRICE = {"Running": 70, "Sports nutrition": 25, "Hiking & camping": 90, "Cycling": 45, "Kitchen": 40,
                  "Coffee & tea": 18, "Garden": 30, "Pet supplies": 25, "Video games": 50, "Electronics": 35,
                  "Toys & kids": 28, "Books": 16}
CITIES = [  # city, region, country, weight
    ("Berlin", "Berlin", "DE", 12), ("Munich", "Bavaria", "DE", 8), ("Hamburg", "Hamburg", "DE", 6),
    ("Cologne", "North Rhine-Westphalia", "DE", 5), ("Vienna", "Vienna", "AT", 6), ("Zurich", "Zurich", "CH", 4),
    ("Paris", "Île-de-France", "FR", 7), ("Lyon", "Auvergne-Rhône-Alpes", "FR", 3), ("London", "England", "GB", 7),
    ("Manchester", "England", "GB", 3), ("Madrid", "Madrid", "ES", 4), ("Barcelona", "Catalonia", "ES", 4),
    ("Amsterdam", "North Holland", "NL", 5), ("Warsaw", "Masovia", "PL", 4), ("Kraków", "Lesser Poland", "PL", 2),
    ("Copenhagen", "Capital Region", "DK", 3), ("Milan", "Lombardy", "IT", 4), ("Brussels", "Brussels", "BE", 3),
]
SOURCES = [("organic", 30), ("google_ads", 22), ("facebook", 14), ("instagram", 10), ("newsletter", 8),
           ("referral", 9), ("affiliate", 7)]
FIRST_NAMES = ["Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hugo", "Ida", "Jonas", "Karla", "Leon",
               "Mia", "Noah", "Olivia", "Paul", "Rosa", "Sam", "Tara", "Umut", "Vera", "Wim", "Yara", "Zoë",
               "José", "Łukasz", "Søren", "Chloé", "Mateo", "Aisha", "Kenji", "Priya"]
LAST_NAMES = ["Müller", "Schmidt", "Smith", "Dubois", "García", "Rossi", "Jansen", "Nowak", "Hansen", "Weber",
              "O'Brien", "Novak", "Fischer", "Martin", "López", "Bianchi", "de Vries", "Kowalski", "Berg", "Wagner"]
INVALID_EMAILS = ["not-an-email", "jane.doe@", "@example.com", "bob@@example.com", "", "  ", "anna@example",
                  "mike at example.com", "<script>@x.y"]
MONTH_WEIGHT = np.array([0.8, 0.75, 0.85, 0.9, 0.95, 0.9, 0.85, 0.85, 0.95, 1.05, 1.5, 1.75])  # Jan..Dec
DAY = 86400
SAMPLE_CHUNK = 1_000_000  # events drawn per pass (bounds the generator's memory)
WRITE_CHUNK = 200_000  # rows converted to Python values per pass when writing


@dataclass
class DemoShop:
    """The generated tables (column arrays) and the planted truth."""

    now: datetime
    tables: dict[str, dict[str, np.ndarray]]
    persona: np.ndarray  # per customer row: persona index, -1 when the customer has no activity
    tier: np.ndarray  # per customer row: "high", "mid", "low", "recent", "never", "new"
    info: dict = field(default_factory=dict)

    def rows(self, table: str) -> int:
        cols = self.tables[table]
        return len(next(iter(cols.values())))


def _choice_weighted(rng, items, weights, size):
    w = np.asarray(weights, dtype=float)
    return rng.choice(len(items), size=size, p=w / w.sum())


def _seasonal_offsets(rng, now_ts: float, lo_days: np.ndarray, hi_days: np.ndarray) -> np.ndarray:
    """Event ages in days in [lo, hi), with more events in the shop's busy months."""
    ages = lo_days + rng.random(len(lo_days)) * np.maximum(hi_days - lo_days, 0)
    # Thin out quiet months by rejection (one retry pass keeps it fast and deterministic).
    months = ((np.datetime64(int(now_ts), "s") - (ages * DAY).astype("timedelta64[s]"))
              .astype("datetime64[M]").astype(int) % 12)
    keep = rng.random(len(ages)) < MONTH_WEIGHT[months] / MONTH_WEIGHT.max()
    retry = lo_days + rng.random(len(lo_days)) * np.maximum(hi_days - lo_days, 0)
    return np.where(keep, ages, retry)


def _timestamps(now: datetime, ages_days: np.ndarray) -> np.ndarray:
    """Ages (days before ``now``) as 'YYYY-MM-DD HH:MM:SS' strings."""
    if len(ages_days) == 0:
        return np.array([], dtype=object)
    base = np.datetime64(now.replace(microsecond=0), "s")
    stamps = base - (np.asarray(ages_days) * DAY).astype("timedelta64[s]")
    return np.char.replace(np.datetime_as_string(stamps, unit="s"), "T", " ")


def _products(rng, per_category: int):
    cat_index = {name: i + 1 for i, name in enumerate(CATEGORIES)}
    brands_by_cat = {c: [b for b, (_, cats) in enumerate(BRANDS, start=1) if c in cats] for c in CATEGORIES}
    rows = []
    pid = 1000
    for cat in CATEGORIES:
        words = PRODUCT_WORDS[cat]
        for j in range(per_category):
            pid += 1
            brand = brands_by_cat[cat][j % len(brands_by_cat[cat])]
            base = CATEGORY_PRICE[cat] * float(np.exp(rng.normal(0, 0.45)))
            name = f"{BRANDS[brand - 1][0]} {words[j % len(words)]}" + (f" {j // len(words) + 1}" if j >= len(words) else "")
            rows.append([pid, name, cat_index[cat], brand, round(base, 2)])
    ids = np.array([r[0] for r in rows])
    names = np.array([r[1] for r in rows], dtype=object)
    cats = np.array([r[2] for r in rows])
    brand_ids = np.array([r[3] for r in rows])
    prices = np.array([r[4] for r in rows])
    active = np.ones(len(ids), dtype=np.int64)
    stock = rng.integers(0, 200, len(ids))
    # Dirty rows: HTML in names, zero prices, an inactive product.
    names[0] = "<script>alert('xss')</script> Trail shoe"
    names[per_category + 1] = 'Tom & Jerry "Energy" <b>gel</b>'
    prices[2] = 0.0
    prices[per_category * 4 + 3] = 0.0
    active[per_category * 5 + 2] = 0
    return ids, names, cats, brand_ids, prices, active, stock


def generate(seed: int = 42, customers: int = 3000, now: datetime | None = None, views_per_customer: float = 40.0,
             products_per_category: int = 20, dirty: bool = True, order_rate: float = 1.0) -> DemoShop:
    """Build the whole shop in memory. Runs in seconds even for 100k customers.

    ``views_per_customer`` and ``order_rate`` (a multiplier on every tier's orders per year)
    size the event tables; the benchmark uses them to build 5M views and ~1M order lines.
    """
    rng = np.random.default_rng(seed)
    now = (now or datetime.now().replace(hour=0, minute=0, second=0)).replace(microsecond=0)
    now_ts = now.timestamp()
    n = int(customers)

    pids, pnames, pcats, pbrands, prices, pactive, pstock = _products(rng, products_per_category)
    ncat = len(CATEGORIES)
    by_cat = [np.flatnonzero(pcats == c + 1) for c in range(ncat)]
    # Popularity within a category is skewed (a few bestsellers), as in any shop.
    pop = [np.exp(-np.arange(len(ix)) / 6.0)[rng.permutation(len(ix))] for ix in by_cat]
    pop = [p / p.sum() for p in pop]
    companion = {}  # "bought together": product -> its companion, within the same category
    for ix in by_cat:
        for a, b in zip(ix[0::4], ix[1::4]):
            companion[a] = b

    # --- customers -----------------------------------------------------------------------
    cust_ids = np.arange(1, n + 1) * 7 + 100  # not 1..n: ids in real shops have gaps
    signup_age = np.where(rng.random(n) < 0.09, rng.random(n) * 89, 90 + rng.random(n) * 640)
    tier = np.array(["mid"] * n, dtype=object)
    r = rng.random(n)
    tier[r < 0.10] = "high"
    tier[(r >= 0.10) & (r < 0.52)] = "low"
    tier[(r >= 0.52) & (r < 0.67)] = "never"
    tier[(r >= 0.67) & (r < 0.74)] = "recent"
    tier[signup_age < 90] = "new"
    persona = rng.integers(0, len(PERSONAS), n)
    silent = rng.random(n) < 0.06  # signed up, never came back: no activity at all
    persona[silent] = -1

    taste = np.zeros((n, ncat))
    for k, (_, main, second, share) in enumerate(PERSONAS):
        rows = persona == k
        taste[rows, CATEGORIES.index(main)] += share
        taste[rows, CATEGORIES.index(second)] += 1.0 - share - 0.12
    taste += 0.12 * rng.dirichlet(np.ones(ncat), n)
    taste[silent] = 0

    city_ix = _choice_weighted(rng, CITIES, [c[3] for c in CITIES], n)
    source_ix = _choice_weighted(rng, SOURCES, [s[1] for s in SOURCES], n)
    first = np.array(FIRST_NAMES, dtype=object)[rng.integers(0, len(FIRST_NAMES), n)]
    last = np.array(LAST_NAMES, dtype=object)[rng.integers(0, len(LAST_NAMES), n)]
    domains = np.array(["example.com", "example.org", "example.net"], dtype=object)[rng.integers(0, 3, n)]
    emails = np.array([f"{f}.{l}.{i}@{d}".lower().replace(" ", "").replace("'", "")
                       for f, l, i, d in zip(first, last, cust_ids, domains)], dtype=object)
    emails = np.array([e.encode("ascii", "ignore").decode() for e in emails], dtype=object)
    newsletter = (rng.random(n) < 0.72).astype(np.int64)
    cust_active = np.ones(n, dtype=np.int64)

    # Activity window per customer: most recent activity somewhere after sign-up.
    lapsed = rng.random(n) < 0.25
    last_active = np.where(lapsed, rng.random(n) * np.minimum(signup_age, 300), rng.random(n) * 20)
    last_active = np.minimum(last_active, signup_age)
    span = np.minimum(signup_age - last_active, 60 + rng.random(n) * 120)

    taste_cum = np.cumsum(taste, axis=1)

    def sample_products(cust_rows: np.ndarray) -> np.ndarray:
        """One product per event, drawn from the customer's taste, then by popularity.

        Events are drawn in chunks so that memory stays bounded for tens of millions of
        views; a shop with fewer events than one chunk draws exactly as in one pass.
        """
        out = np.empty(len(cust_rows), dtype=np.int64)
        for start in range(0, len(cust_rows), SAMPLE_CHUNK):
            rows = cust_rows[start:start + SAMPLE_CHUNK]
            cum = taste_cum[rows]
            u = rng.random(len(rows)) * cum[:, -1]
            cats = (cum < u[:, None]).sum(axis=1).clip(max=ncat - 1)
            part = out[start:start + SAMPLE_CHUNK]
            for c in range(ncat):
                sel = np.flatnonzero(cats == c)
                if len(sel):
                    part[sel] = by_cat[c][rng.choice(len(by_cat[c]), len(sel), p=pop[c])]
        return out  # product row index

    # --- views -------------------------------------------------------------------------------
    n_views = np.where(silent, 0, np.maximum(8, rng.lognormal(np.log(views_per_customer) - 0.18, 0.6, n))).astype(int)
    v_cust = np.repeat(np.arange(n), n_views)
    v_prod = sample_products(v_cust)
    v_age = last_active[v_cust] + rng.random(len(v_cust)) * span[v_cust]

    # --- orders ------------------------------------------------------------------------------
    orders_per_year = {"high": 14.0, "mid": 4.0, "low": 1.2, "recent": 2.0, "new": 1.0, "never": 0.0}
    rate = np.array([orders_per_year[t] for t in tier]) * np.where(silent, 0, 1) * order_rate
    life = np.minimum(signup_age, 540.0)
    n_orders = rng.poisson(rate * life / 365.0)
    n_orders[(tier == "recent") & (n_orders == 0) & ~silent] = 1
    n_orders[(tier == "low") & (n_orders == 0) & ~silent] = 1
    n_orders[tier == "new"] = np.where(rng.random((tier == "new").sum()) < 0.35, 1, 0)
    n_orders[silent | (tier == "never")] = 0
    o_cust = np.repeat(np.arange(n), n_orders)
    lo = np.where(tier[o_cust] == "recent", 0.0, last_active[o_cust])
    hi = np.where(tier[o_cust] == "recent", 85.0, life[o_cust])
    hi = np.where(tier[o_cust] == "new", signup_age[o_cust], hi)
    # Low-value customers bought a while ago; high-value ones keep buying.
    lo = np.where(tier[o_cust] == "low", np.maximum(lo, 120.0), lo)
    lo = np.minimum(lo, hi)
    o_age = _seasonal_offsets(rng, now_ts, lo, hi)
    order_ids = np.arange(len(o_cust)) + 50001

    lines_per_order = 1 + rng.poisson(np.where(tier[o_cust] == "high", 1.6, 0.7))
    l_order = np.repeat(np.arange(len(o_cust)), lines_per_order)
    l_prod = sample_products(o_cust[l_order])
    # Planted association: a product's companion joins the basket 45% of the time.
    comp = np.array([companion.get(p, -1) for p in l_prod])
    add = (comp >= 0) & (rng.random(len(l_prod)) < 0.45)
    l_order = np.concatenate([l_order, l_order[add]])
    l_prod = np.concatenate([l_prod, comp[add]])
    sort = np.argsort(l_order, kind="stable")
    l_order, l_prod = l_order[sort], l_prod[sort]
    qty = 1 + rng.poisson(0.25, len(l_prod))
    unit = prices[l_prod] * np.where(tier[o_cust[l_order]] == "high", 1.15, 1.0)
    unit = np.round(unit, 2)
    totals = np.bincount(l_order, weights=unit * qty, minlength=len(o_cust)).round(2)
    status = np.where(rng.random(len(o_cust)) < 0.04, "cancelled", "complete").astype(object)
    status[o_age < 3] = "processing"

    # --- open carts (abandoned or not yet bought) ----------------------------------------------
    has_cart = (rng.random(n) < 0.22) & ~silent
    n_cart = np.where(has_cart, 1 + rng.poisson(0.8, n), 0)
    c_cust = np.repeat(np.arange(n), n_cart)
    c_prod = sample_products(c_cust)
    c_age = np.where(rng.random(len(c_cust)) < 0.7, rng.random(len(c_cust)) * 10, 10 + rng.random(len(c_cust)) * 120)
    c_age = np.minimum(c_age, signup_age[c_cust])

    tables = {
        "categories": {"category_id": np.arange(1, ncat + 1), "name": np.array(CATEGORIES, dtype=object),
                       "parent_id": np.array([None] * ncat, dtype=object)},
        "brands": {"brand_id": np.arange(1, len(BRANDS) + 1), "name": np.array([b[0] for b in BRANDS], dtype=object)},
        "products": {
            "product_id": pids, "name": pnames, "category_id": pcats, "brand_id": pbrands, "price": prices,
            "url": np.array([f"/product.php?id={p}" for p in pids], dtype=object),
            "image_url": np.array([f"/img/p{p}.jpg" for p in pids], dtype=object),
            "active": pactive, "stock": pstock,
        },
        "customers": {
            "customer_id": cust_ids, "email": emails, "first_name": first, "last_name": last,
            "city": np.array([CITIES[i][0] for i in city_ix], dtype=object),
            "region": np.array([CITIES[i][1] for i in city_ix], dtype=object),
            "country": np.array([CITIES[i][2] for i in city_ix], dtype=object),
            "source": np.array([SOURCES[i][0] for i in source_ix], dtype=object),
            "newsletter": newsletter, **_telephones(seed, n), "active": cust_active,
            "created_at": _timestamps(now, signup_age),
        },
        "product_views": {"view_id": np.arange(1, len(v_cust) + 1), "customer_id": cust_ids[v_cust].astype(object),
                          "product_id": pids[v_prod], "viewed_at": _timestamps(now, v_age)},
        "cart_items": {"cart_item_id": np.arange(1, len(c_cust) + 1), "customer_id": cust_ids[c_cust],
                       "product_id": pids[c_prod], "quantity": 1 + rng.poisson(0.3, len(c_cust)),
                       "added_at": _timestamps(now, c_age)},
        "orders": {"order_id": order_ids, "customer_id": cust_ids[o_cust], "placed_at": _timestamps(now, o_age),
                   "total": totals, "status": status},
        "order_lines": {"order_line_id": np.arange(1, len(l_order) + 1), "order_id": order_ids[l_order],
                        "product_id": pids[l_prod], "quantity": qty, "unit_price": unit},
    }
    shop = DemoShop(now=now, tables=tables, persona=persona, tier=tier,
                    info={"personas": [p[0] for p in PERSONAS], "companions": {int(pids[a]): int(pids[b])
                                                                             for a, b in companion.items()}})
    if dirty:
        _add_dirt(rng, shop)
    return shop


def _telephones(seed: int, n: int) -> dict:
    """Phone numbers as shoppers type them (German mobiles in national and international form,
    some landlines, some junk, many empty) and an SMS opt-in for some. Drawn from their own
    random stream, so the rest of the demo shop is the same with or without them."""
    rng = np.random.default_rng(seed + 7919)
    kind = rng.random(n)
    digits = rng.integers(10_000_000, 99_999_999, size=n)
    prefixes = np.array(["0151", "0160", "0170", "0176"])[rng.integers(0, 4, size=n)]
    phones = np.empty(n, dtype=object)
    for i in range(n):
        if kind[i] < 0.45:
            phones[i] = f"{prefixes[i]} {digits[i]}"
        elif kind[i] < 0.60:
            phones[i] = f"+49 {prefixes[i][1:]} {digits[i]}"
        elif kind[i] < 0.68:
            phones[i] = f"030 {digits[i] // 10}"  # a Berlin landline: no SMS
        elif kind[i] < 0.72:
            phones[i] = ("n/a", "-", "12345", "call me")[i % 4]
        else:
            phones[i] = None
    optin = ((rng.random(n) < 0.5) & (kind < 0.72)).astype(np.int64)
    return {"telephone": phones, "sms_optin": optin}


def _add_dirt(rng, shop: DemoShop) -> None:
    """The rows every real shop has and every importer must survive."""
    t = shop.tables
    cust = t["customers"]
    n = len(cust["customer_id"])
    k = max(3, n // 100)
    picks = rng.choice(n, size=3 * k, replace=False)
    null_ix, bad_ix, dup_ix = picks[:k], picks[k:2 * k], picks[2 * k:]
    cust["email"][null_ix] = None
    cust["email"][bad_ix] = np.array(INVALID_EMAILS, dtype=object)[np.arange(len(bad_ix)) % len(INVALID_EMAILS)]
    donors = rng.choice(np.setdiff1d(np.arange(n), picks), size=len(dup_ix), replace=False)
    cust["email"][dup_ix] = [str(e).upper() if i % 2 else str(e) for i, e in enumerate(cust["email"][donors])]
    cust["active"][rng.choice(n, size=max(1, n // 200), replace=False)] = 0
    shop.info["dirty_email_rows"] = {"null": cust["customer_id"][null_ix].tolist(),
                                     "invalid": cust["customer_id"][bad_ix].tolist(),
                                     "duplicate": cust["customer_id"][dup_ix].tolist()}
    some_customer = int(cust["customer_id"][0])
    stamp = str(t["product_views"]["viewed_at"][0])
    v = t["product_views"]
    base = int(v["view_id"][-1]) if len(v["view_id"]) else 0
    # Orphan product, guest view (no customer), orphan customer, and one from the future.
    future = _timestamps(shop.now, np.array([-3.0]))[0]
    for i, (cid, pid, when) in enumerate([(some_customer, 999999, stamp), (None, int(t["products"]["product_id"][5]), stamp),
                                          (987654321, int(t["products"]["product_id"][5]), stamp),
                                          (some_customer, int(t["products"]["product_id"][7]), future)]):
        for key, val in (("view_id", base + i + 1), ("customer_id", cid), ("product_id", pid), ("viewed_at", when)):
            v[key] = np.append(v[key].astype(object), [val])
    o, ol = t["orders"], t["order_lines"]
    next_order = int(o["order_id"].max()) + 1 if len(o["order_id"]) else 1
    next_line = int(ol["order_line_id"].max()) + 1 if len(ol["order_line_id"]) else 1
    # An order by a customer the shop no longer has, and a line for a deleted product.
    for key, val in (("order_id", next_order), ("customer_id", 987654321), ("placed_at", stamp),
                     ("total", 19.99), ("status", "complete")):
        o[key] = np.append(o[key].astype(object), [val])
    for key, val in (("order_line_id", next_line), ("order_id", next_order), ("product_id", 999998),
                     ("quantity", 1), ("unit_price", 19.99)):
        ol[key] = np.append(ol[key].astype(object), [val])
    # A pending order (not a real sale).
    for key, val in (("order_id", next_order + 1), ("customer_id", some_customer), ("placed_at", stamp),
                     ("total", 55.0), ("status", "pending")):
        o[key] = np.append(o[key].astype(object), [val])
