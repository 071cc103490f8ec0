"""Shoppers who use a real OpenCart through its own pages, forms and AJAX routes.

Three interest personas over OpenCart's demo catalogue. Every shopper registers (some tick the
newsletter box; OpenCart logs them in), a third of them log out and come back through the login
form, they view products of their persona (the product page's view beacon fires: the HTTP
shoppers fetch its image as a browser does), fill a cart and check out with cash on delivery and
flat-rate shipping; some leave their cart, some only browse, and a few guests check out without
an account. A few shoppers do all of it in Chromium, clicking
through the checkout; the others send the same requests the shop's pages send, with a cookie jar.
"""
from __future__ import annotations

import html
import json
import random
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError

from tests.support.browser import ARTIFACTS
from tests.support.deploy import Browser, Response

from .harness import OpenCart

#: Products by persona, by their names in OpenCart's demo data. ``buy`` lists those a checkout
#: with flat-rate shipping accepts as they are: in stock, shipped (the demo's MacBook and iPod
#: Nano are not) and without required options.
PERSONAS = {
    "computers": {"view": ["MacBook", "MacBook Air", "MacBook Pro", "Sony VAIO", "iMac",
                           "Samsung SyncMaster 941BW", "HP LP3065"],
                  "buy": ["MacBook Air", "MacBook Pro", "Sony VAIO", "iMac"]},
    "phones & cameras": {"view": ["iPhone", "HTC Touch HD", "Palm Treo Pro", "Nikon D300", "Canon EOS 5D"],
                         "buy": ["iPhone", "HTC Touch HD", "Palm Treo Pro", "Nikon D300"]},
    "audio & tablets": {"view": ["iPod Touch", "iPod Nano", "iPod Shuffle", "iPod Classic",
                                 "Samsung Galaxy Tab 10.1"],
                        "buy": ["iPod Touch", "iPod Shuffle", "iPod Classic"]},
}
#: What each shopper of a persona does, in order: buy once, buy twice, leave the cart, only
#: browse, or buy once and have the order cancelled by the shop.
BEHAVIOURS = ["buy", "buy", "buy", "buy", "buy", "repeat", "abandon", "abandon", "browse", "cancel"]
PASSWORD = "shopper-pass-1"
#: In OpenCart's own default country and zone (config_country_id, config_zone_id of a fresh install).
ADDRESS = {"address_1": "1 High Street", "city": "Leeds", "postcode": "LS1 4AP", "country_id": "222",
           "zone_id": "3563"}


@dataclass
class Shopper:
    number: int
    persona: str
    behaviour: str  # buy, repeat, abandon, browse, cancel; "guest" for guest checkouts
    newsletter: bool
    chromium: bool
    returning: bool  # logs out after registering and comes back through the login form
    views: list[int]
    orders: list[list[int]]  # the products of each checkout
    cart_left: list[int]  # what stays in the cart
    email: str = ""
    first_name: str = ""
    last_name: str = "Shopper"
    viewed: list[int] = field(default_factory=list)  # the product pages whose beacon was answered 204
    deadlocks: int = 0  # requests OpenCart refused with a database deadlock (and were sent again)
    resets: int = 0  # page loads whose connection the server reset before answering (and were asked again)
    seconds: float = 0.0
    log: list[str] = field(default_factory=list)

    @property
    def beacons(self) -> int:
        return len(self.viewed)

    @property
    def guest(self) -> bool:
        return self.behaviour == "guest"


def plan(catalog: dict[str, int], tag: str, per_persona: int = 10, guests: int = 3, chromium: int = 3,
         seed: int = 7) -> list[Shopper]:
    """Who does what: ``per_persona`` customers of each persona, ``chromium`` of them (one per
    persona first) in a real browser, and ``guests`` guest checkouts."""
    rnd = random.Random(seed)
    shoppers: list[Shopper] = []
    number = 0
    personas = list(PERSONAS)
    for i in range(per_persona):
        for persona in personas:
            behaviour = BEHAVIOURS[i % len(BEHAVIOURS)]
            products = PERSONAS[persona]
            views = rnd.sample(products["view"], k=3)
            buys = [catalog[n] for n in rnd.sample(products["buy"], k=rnd.randint(1, 2))]
            orders, cart_left = [], []
            if behaviour in ("buy", "cancel"):
                orders = [buys]
            elif behaviour == "repeat":
                orders = [buys, [catalog[rnd.choice(products["buy"])]]]
            elif behaviour == "abandon":
                cart_left = buys
            number += 1
            shoppers.append(Shopper(number, persona, behaviour, newsletter=i % 3 != 1, chromium=False,
                                    returning=i % 3 == 0 or behaviour == "repeat",
                                    views=[catalog[n] for n in views], orders=orders,
                                    cart_left=cart_left, email=f"shopper{number}.{tag}@mail.test",
                                    first_name=f"Shopper{number}"))
    for persona, shopper in zip(personas, [s for s in shoppers if s.behaviour == "buy"][:chromium]):
        shopper.chromium = shopper.returning = True
    for g in range(guests):
        persona = personas[g % len(personas)]
        number += 1
        shoppers.append(Shopper(number, persona, "guest", newsletter=False, chromium=False, returning=False,
                                views=[catalog[PERSONAS[persona]["view"][0]]],
                                orders=[[catalog[PERSONAS[persona]["buy"][g % 2]]]], cart_left=[],
                                email=f"guest{number}.{tag}@mail.test", first_name=f"Guest{number}"))
    return shoppers


#: OpenCart starts every request by tidying its cart table (a DELETE that scans it, then an
#: UPDATE of the logged-in customer's lines, system/library/cart/cart.php). Two shoppers at the
#: same moment can deadlock there; MariaDB then rolls the DELETE back and OpenCart answers with
#: PHP's warning. Nothing of the request has happened yet, and a shopper would reload the page:
#: the shoppers here send it again.
DEADLOCK = "Deadlock found when trying to get lock"
DEADLOCK_TRIES = 4


class ShopError(AssertionError):
    """OpenCart answered a step with an error (its JSON error, or an unexpected page)."""


# --- over HTTP, with a cookie jar ------------------------------------------------------------------

class HttpShopper:
    """One shopper's visit over HTTP: the requests OpenCart's pages send, nothing else."""

    def __init__(self, shop: OpenCart, shopper: Shopper):
        self.shop, self.release, self.s = shop, shop.release, shopper
        self.web = Browser(shop.url.rstrip("/"), timeout=60)
        self.lang = "&language=en-gb" if self.release.major >= 4 else ""

    # helpers
    def send(self, path: str, data: dict | None = None) -> Response:
        """One request to the shop; sent again when OpenCart answers with a database deadlock,
        as a shopper reloads an error page (see DEADLOCK)."""
        for attempt in range(DEADLOCK_TRIES):
            answer = self.web.post(path, data) if data is not None else self.web.get(path)
            if DEADLOCK not in answer.body:
                break
            self.s.deadlocks += 1
            time.sleep(0.05 * (attempt + 1))
        return answer

    def page(self, route: str, query: str = "") -> Response:
        """A page, following the shop's redirects as a browser does."""
        answer = self.send(f"/index.php?route={self.release.route(route)}{self.lang}{query}")
        for _ in range(3):
            if answer.status not in (301, 302, 303) or not answer.header("Location"):
                break
            answer = self.send(_path(answer.header("Location")))
        if answer.status != 200:
            raise ShopError(f"{self.s.email}: GET {route}{query} answered {answer.status}: {answer.body[:800]}")
        return answer

    def call(self, route: str, data: dict | None = None, query: str = "", expect: str | None = None) -> dict:
        """An AJAX route: JSON back, and no ``error`` in it."""
        path = f"/index.php?route={self.release.route(route)}{self.lang}{query}"
        answer = self.send(path, data)
        try:
            reply = json.loads(answer.body) or {}  # OpenCart 3 answers a step that went through with []
        except ValueError:
            raise ShopError(f"{self.s.email}: {route} did not answer JSON ({answer.status}): {answer.body[:800]}")
        if not isinstance(reply, dict) or reply.get("error") or (expect and expect not in reply) or \
                (reply.get("redirect") and expect != "redirect"):
            raise ShopError(f"{self.s.email}: {route} answered {reply!r}")
        return reply

    def post_form(self, route: str, data: dict, query: str = "") -> Response:
        """A classic form (OpenCart 3): answered with a redirect when it was accepted."""
        answer = self.send(f"/index.php?route={self.release.route(route)}{query}", data)
        if answer.status != 302:
            errors = re.findall(r'class="text-danger">([^<]+)<|alert-danger[^>]*>(?:<i[^>]*></i>)?\s*([^<]+)<',
                                answer.body)
            raise ShopError(f"{self.s.email}: {route} was not accepted ({answer.status}): {errors}")
        return answer

    # the visit
    def run(self) -> Shopper:
        started = time.monotonic()
        s = self.s
        if s.guest:
            for product_id in s.views:
                self.view(product_id)
            self.fill_cart(s.orders[0])
            self.checkout_guest()
        else:
            self.register()  # OpenCart logs a new customer in at once
            if s.returning:
                self.log_out()
                self.log_in()
            for product_id in s.views:
                self.view(product_id)
            for products in s.orders:
                self.fill_cart(products)
                self.checkout()
            if s.cart_left:
                self.fill_cart(s.cart_left)
        s.seconds = time.monotonic() - started
        return s

    def register(self) -> None:
        s = self.s
        fields = {"firstname": s.first_name, "lastname": s.last_name, "email": s.email, "telephone": "0113 496 0000",
                  "password": PASSWORD, "newsletter": "1" if s.newsletter else "0", "agree": "1"}
        form = self.page("account/register")
        if self.release.major >= 4:
            action = re.search(r'id="form-register" action="([^"]+)"', form.body)
            if not action:
                raise ShopError(f"{s.email}: the register page has no form")
            reply = self.send(_path(action.group(1)), {"customer_group_id": "1", **fields})
            redirect = json.loads(reply.body).get("redirect", "")
            if "account/success" not in redirect:
                raise ShopError(f"{s.email}: registration failed: {reply.body[:800]}")
        else:
            self.post_form("account/register", {"customer_group_id": "1", **fields, "confirm": PASSWORD})
        s.log.append("registered")

    def log_out(self) -> None:
        """The logout link: OpenCart logs out and redirects to a "you are logged out" page."""
        answer = self.send(f"/index.php?route=account/logout{self.lang}")
        if answer.status not in (200, 302):
            raise ShopError(f"{self.s.email}: logout answered {answer.status}")

    def log_in(self) -> None:
        s = self.s
        if self.release.major >= 4:
            form = self.page("account/login")
            action = re.search(r'id="form-login" action="([^"]+)"', form.body)
            reply = json.loads(self.send(_path(action.group(1)), {"email": s.email, "password": PASSWORD}).body)
            if "redirect" not in reply or reply.get("error"):
                raise ShopError(f"{s.email}: login failed: {reply}")
        else:
            self.page("account/login")
            answer = self.post_form("account/login", {"email": s.email, "password": PASSWORD})
            if "account/account" not in (answer.header("Location") or ""):
                raise ShopError(f"{s.email}: login went to {answer.header('Location')}")
        s.log.append("logged in")

    def view(self, product_id: int) -> None:
        """The product page, then its images as a browser loads them: the beacon among them."""
        body = self.page("product/product", f"&product_id={product_id}").body
        beacon = re.search(r'<img src="([^"]*/crm/beacon\?[^"]+)"', body)
        if self.s.guest:
            if beacon:
                raise ShopError(f"{self.s.email}: a guest's product page carries the view beacon")
            return
        if not beacon:
            raise ShopError(f"{self.s.email}: product {product_id}: the page has no view beacon")
        answer = self.web.get(_path(html.unescape(beacon.group(1))))
        if answer.status != 204:
            raise ShopError(f"{self.s.email}: the beacon answered {answer.status}: {answer.body[:300]}")
        self.s.viewed.append(product_id)

    def fill_cart(self, products: list[int]) -> None:
        for product_id in products:
            self.call("checkout/cart.add", {"product_id": str(product_id), "quantity": "1"}, expect="success")

    def checkout(self) -> None:
        if self.release.major >= 4:
            self._checkout_4()
        else:
            self._checkout_3()
        self.s.log.append("ordered")

    def checkout_guest(self) -> None:
        s = self.s
        self.page("checkout/checkout")
        if self.release.major >= 4:
            self.call("checkout/register.save", {
                "account": "0", "customer_group_id": "1", "firstname": s.first_name, "lastname": s.last_name,
                "email": s.email, "password": "", **{f"shipping_{k}": v for k, v in ADDRESS.items()},
                "shipping_company": "", "shipping_address_2": ""}, expect="success")
            self._methods_and_confirm_4()
        else:
            self.page("checkout/guest")
            self.call("checkout/guest.save", {
                "customer_group_id": "1", "firstname": s.first_name, "lastname": s.last_name, "email": s.email,
                "telephone": "0113 496 0000", "company": "", "address_2": "", **ADDRESS, "shipping_address": "1"})
            self._methods_and_confirm_3()
        s.log.append("ordered as a guest")

    def _checkout_4(self) -> None:
        s = self.s
        page = self.page("checkout/checkout")
        existing = re.search(r'<select name="address_id" id="input-shipping-address"[^>]*>\s*'
                             r'(?:<option value="">[^<]*</option>\s*)?<option value="(\d+)"', page.body)
        if existing:
            self.call("checkout/shipping_address.address", query=f"&address_id={existing.group(1)}", expect="success")
        else:
            self.call("checkout/shipping_address.save", {"firstname": s.first_name, "lastname": s.last_name,
                                                         "company": "", "address_2": "", **ADDRESS}, expect="success")
        self._methods_and_confirm_4()

    def _methods_and_confirm_4(self) -> None:
        quote = self.call("checkout/shipping_method.quote", expect="shipping_methods")
        if "flat" not in quote["shipping_methods"]:
            raise ShopError(f"{self.s.email}: no flat-rate shipping offered: {quote}")
        self.call("checkout/shipping_method.save", {"shipping_method": "flat.flat"}, expect="success")
        methods = self.call("checkout/payment_method.getMethods", expect="payment_methods")
        if "cod" not in methods["payment_methods"]:
            raise ShopError(f"{self.s.email}: no cash on delivery offered: {methods}")
        self.call("checkout/payment_method.save", {"payment_method": "cod.cod"}, expect="success")
        self.page("checkout/confirm.confirm")  # writes the order (status 0 until the payment confirms it)
        reply = self.call("extension/opencart/payment/cod.confirm", expect="redirect")
        if "checkout/success" not in reply["redirect"]:
            raise ShopError(f"{self.s.email}: cash on delivery went to {reply['redirect']}")
        self.page("checkout/success")

    def _checkout_3(self) -> None:
        s = self.s
        self.page("checkout/checkout")
        form = self.page("checkout/payment_address").body
        existing = re.search(r'<select name="address_id"[^>]*>\s*<option value="(\d+)"', form)
        if existing:
            self.call("checkout/payment_address.save", {"payment_address": "existing",
                                                        "address_id": existing.group(1)})
        else:
            self.call("checkout/payment_address.save", {"firstname": s.first_name, "lastname": s.last_name,
                                                        "company": "", "address_2": "", **ADDRESS})
        form = self.page("checkout/shipping_address").body
        address = re.search(r'<select name="address_id"[^>]*>\s*<option value="(\d+)"', form)
        if not address:
            raise ShopError(f"{s.email}: the shipping address step offers no address")
        self.call("checkout/shipping_address.save", {"shipping_address": "existing", "address_id": address.group(1)})
        self._methods_and_confirm_3()

    def _methods_and_confirm_3(self) -> None:
        if 'value="flat.flat"' not in self.page("checkout/shipping_method").body:
            raise ShopError(f"{self.s.email}: no flat-rate shipping offered")
        self.call("checkout/shipping_method.save", {"shipping_method": "flat.flat", "comment": ""})
        if 'value="cod"' not in self.page("checkout/payment_method").body:
            raise ShopError(f"{self.s.email}: no cash on delivery offered")
        self.call("checkout/payment_method.save", {"payment_method": "cod", "comment": "", "agree": "1"})
        self.page("checkout/confirm")  # writes the order (status 0 until the payment confirms it)
        reply = self.call("extension/payment/cod.confirm", expect="redirect")
        if "checkout/success" not in reply["redirect"]:
            raise ShopError(f"{self.s.email}: cash on delivery went to {reply['redirect']}")
        self.page("checkout/success")


def _path(url: str) -> str:
    """A full shop URL (as OpenCart writes them) as the path Browser wants."""
    return re.sub(r"^https?://[^/]+", "", html.unescape(url))


# --- in Chromium --------------------------------------------------------------------------------

class ChromiumShopper:
    """The same visit in a real browser: forms filled and buttons clicked, the checkout's AJAX
    and the beacon image left to the shop's own pages."""

    def __init__(self, shop: OpenCart, shopper: Shopper, context, artifacts: Path | None = None):
        self.shop, self.release, self.s = shop, shop.release, shopper
        self.page = context.new_page()
        self.page.set_default_timeout(60_000)  # a loaded CI machine runs 30 PHP shoppers beside this one
        self.inflight: set = set()
        self.page.on("request", self._track)
        self.page.on("requestfinished", self._done)
        self.page.on("requestfailed", self._done)
        self.lang = "&language=en-gb" if self.release.major >= 4 else ""
        self.artifacts = artifacts
        self.page.on("response", self._count_beacon)
        self.page.on("console", self._console)
        self.page.on("dialog", lambda dialog: (self.s.log.append(f"dialog: {dialog.message[:300]}"), dialog.accept()))

    def _console(self, message) -> None:
        if message.type in ("error", "warning"):
            self.s.log.append(f"console: {message.text[:200]}")

    def _count_beacon(self, response) -> None:
        """A beacon answered 204: note the product of the page that loaded it (not the product
        the beacon names, so a snippet reporting the wrong product is caught)."""
        if "/crm/beacon?" in response.url and response.status == 204:
            page = re.search(r"[?&]product_id=(\d+)", response.frame.url)
            self.s.viewed.append(int(page.group(1)) if page else 0)

    def go(self, route: str, query: str = "") -> None:
        self.page.goto(f"{self.shop.url}index.php?route={self.release.route(route)}{self.lang}{query}")

    def shot(self, name: str) -> None:
        if self.artifacts is not None:
            self.artifacts.mkdir(exist_ok=True)
            self.page.screenshot(path=str(self.artifacts / f"realshop-oc{self.release.major}-{name}.png"),
                                 full_page=True)

    def run(self) -> Shopper:
        """The visit; on a failure, a screenshot and the page's alerts go with the error."""
        try:
            return self._visit()
        except Exception as exc:
            name = f"realshop-oc{self.release.major}-failed-shopper{self.s.number}.png"
            ARTIFACTS.mkdir(exist_ok=True)
            self.page.screenshot(path=str(ARTIFACTS / name), full_page=True)
            alerts = self.page.locator(".alert, .invalid-feedback:visible, .text-danger").all_inner_texts()
            raise ShopError(f"{self.s.email} in Chromium at {self.page.url}: {exc}\nalerts: {alerts}\n"
                            f"steps: {self.s.log}\n"
                            f"screenshot: test-artifacts/{name}") from exc

    def _visit(self) -> Shopper:
        started = time.monotonic()
        s, p = self.s, self.page
        self.go("account/register")
        p.fill("#input-firstname", s.first_name)
        p.fill("#input-lastname", s.last_name)
        p.fill("#input-email", s.email)
        if p.locator("#input-telephone").count():
            p.fill("#input-telephone", "0113 496 0000")
        p.fill("#input-password", PASSWORD)
        if self.release.major >= 4:
            if s.newsletter:
                p.check("#input-newsletter")
            p.check("input[name=agree]")
            p.click("#form-register button[type=submit]")
        else:
            p.fill("#input-confirm", PASSWORD)
            p.check(f"input[name=newsletter][value='{1 if s.newsletter else 0}']")
            p.check("input[name=agree]")
            p.click("input[type=submit][value=Continue]")
        p.wait_for_url("**account/success**")
        s.log.append("registered")
        self.go("account/logout")
        self.go("account/login")
        p.fill("#input-email", s.email)
        p.fill("#input-password", PASSWORD)
        p.click("#form-login button[type=submit]" if self.release.major >= 4 else "input[type=submit][value=Login]")
        p.wait_for_url("**account/account**")
        s.log.append("logged in")
        for i, product_id in enumerate(s.views):
            with p.expect_response(lambda r: "/crm/beacon?" in r.url):
                self.go("product/product", f"&product_id={product_id}")
            if i == 0:
                self.shot("product")
        for products in s.orders:
            for product_id in products:
                self.go("product/product", f"&product_id={product_id}")
                with p.expect_response(lambda r: "cart" in r.url and "add" in r.url and r.request.method == "POST"):
                    p.click("#button-cart")
                p.wait_for_selector(".alert-success")
            self.go("checkout/checkout")
            if self.release.major >= 4:
                self._checkout_4()
            else:
                self._checkout_3()
            p.wait_for_url("**checkout/success**")
            self.shot("success")
            s.log.append("ordered")
        s.seconds = time.monotonic() - started
        self.page.close()
        return s

    def _track(self, request) -> None:
        self.inflight.add(request)

    def _done(self, request) -> None:
        self.inflight.discard(request)

    def settle(self, quiet: float = 0.3, timeout: float = 60) -> None:
        """Wait until the page has no request in flight for ``quiet`` seconds.

        OpenCart keeps a session in one row (3.x) or file-like record (4.x) that every request
        writes back whole when it ends. Its checkout fires several requests after each step
        (the order summary, the next step's form, the cart): a step clicked while one of them
        still runs can have what it stored overwritten, and the shop then answers "Payment
        method required!" or sends the shopper back to the start of the checkout. A shopper
        waits for the page to settle before the next click; so does this one.
        """
        deadline = time.monotonic() + timeout
        calm_since = None
        while time.monotonic() < deadline:
            if self.inflight:
                calm_since = None
            elif calm_since is None:
                calm_since = time.monotonic()
            elif time.monotonic() - calm_since >= quiet:
                return
            self.page.wait_for_timeout(50)
        raise ShopError(f"{self.s.email}: requests still running after {timeout} s: "
                        f"{[r.url for r in self.inflight]}")

    def step(self, selector: str) -> None:
        """Click a checkout button once the page has settled, and wait for what it sets off."""
        self.settle()
        self.page.click(selector)
        self.page.wait_for_timeout(100)
        self.settle()

    def choose_place(self, country: str, zone: str) -> None:
        """Country, then region: the page fills the region list from the shop once the country
        is chosen (and once when it loads), so the region is chosen after those answers."""
        p = self.page
        p.select_option(country, ADDRESS["country_id"])
        self.settle()
        p.wait_for_selector(f"{zone} option[value='{ADDRESS['zone_id']}']", state="attached")
        p.select_option(zone, ADDRESS["zone_id"])
        self.settle()
        if p.input_value(zone) != ADDRESS["zone_id"]:
            raise ShopError(f"{self.s.email}: the region list was filled again after the choice")

    def _checkout_4(self) -> None:
        p = self.page
        p.fill("#input-shipping-firstname", self.s.first_name)
        p.fill("#input-shipping-lastname", self.s.last_name)
        p.fill("#input-shipping-address-1", ADDRESS["address_1"])
        p.fill("#input-shipping-city", ADDRESS["city"])
        p.fill("#input-shipping-postcode", ADDRESS["postcode"])
        self.choose_place("#input-shipping-country", "#input-shipping-zone")
        self.step("#button-shipping-address")
        self.shot("checkout")
        self.step("#button-shipping-methods")
        p.check("#modal-shipping input[value='flat.flat']")
        self.step("#button-shipping-method")
        p.wait_for_selector("#modal-shipping", state="hidden")
        self.step("#button-payment-methods")
        p.check("#modal-payment input[value='cod.cod']")
        self.step("#button-payment-method")
        p.wait_for_selector("#modal-payment", state="hidden")
        p.wait_for_selector("#checkout-payment #button-confirm")
        self.step("#button-confirm")

    def _checkout_3(self) -> None:
        p = self.page
        p.wait_for_selector("#input-payment-firstname", state="visible")
        p.fill("#input-payment-firstname", self.s.first_name)
        p.fill("#input-payment-lastname", self.s.last_name)
        p.fill("#input-payment-address-1", ADDRESS["address_1"])
        p.fill("#input-payment-city", ADDRESS["city"])
        p.fill("#input-payment-postcode", ADDRESS["postcode"])
        self.choose_place("#input-payment-country", "#input-payment-zone")
        self.shot("checkout")
        self.step("#button-payment-address")
        p.wait_for_selector("#button-shipping-address", state="visible")
        self.step("#button-shipping-address")
        p.wait_for_selector("#button-shipping-method", state="visible")
        p.check("input[name=shipping_method][value='flat.flat']")
        self.step("#button-shipping-method")
        p.wait_for_selector("#button-payment-method", state="visible")
        p.check("input[name=payment_method][value='cod']")
        p.check("#collapse-payment-method input[name=agree]")
        self.step("#button-payment-method")
        p.wait_for_selector("#button-confirm", state="visible")
        self.step("#button-confirm")


# --- all of them --------------------------------------------------------------------------------

def run_all(shop: OpenCart, shoppers: list[Shopper], browser_factory, artifacts: Path, workers: int = 3) -> dict:
    """Every shopper at once, within reason: the HTTP shoppers in a few threads, and each
    Chromium shopper in a thread of its own with its own browser (Playwright's sync API keeps
    to the thread that started it). Raises the first shopper's failure."""
    started = time.monotonic()
    http = [s for s in shoppers if not s.chromium]
    in_browser = [s for s in shoppers if s.chromium]

    def in_chromium(shopper: Shopper) -> float:
        began = time.monotonic()
        with browser_factory() as browser:
            # Reduced motion, as some shoppers set it: Bootstrap's modals then open without a
            # fade, during which they ignore the checkout's request to close them.
            context = browser.new_context(viewport={"width": 1366, "height": 900}, reduced_motion="reduce")
            context.route("**/*", lambda route: _route(route, shopper))
            try:
                ChromiumShopper(shop, shopper, context, artifacts if shopper is in_browser[0] else None).run()
            finally:
                context.close()
        return time.monotonic() - began

    with ThreadPoolExecutor(max_workers=len(in_browser) or 1, thread_name_prefix="chromium") as browsers, \
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="shopper") as pool:
        chromium = [browsers.submit(in_chromium, s) for s in in_browser]
        futures = [pool.submit(HttpShopper(shop, s).run) for s in http]
        for future in futures:
            future.result()
        http_seconds = time.monotonic() - started
        chromium_seconds = max([f.result() for f in chromium] or [0.0])
    return {"seconds": time.monotonic() - started, "http_seconds": http_seconds, "chromium_seconds": chromium_seconds,
            "http_shoppers": len(http), "chromium_shoppers": len(in_browser)}


def _route(route, shopper: Shopper) -> None:
    """The browser's requests: nothing leaves the loopback (the shop's pages name web fonts and
    a CDN), and a shop request OpenCart refuses with a database deadlock is sent again, as the
    HTTP shoppers do (see DEADLOCK)."""
    request = route.request
    host = re.match(r"^\w+://([^/:]+)", request.url)
    if host and host.group(1) not in ("127.0.0.1", "localhost"):
        route.abort()
        return
    if "/index.php" not in request.url:
        route.continue_()
        return
    for attempt in range(DEADLOCK_TRIES):
        try:
            response = route.fetch(max_redirects=0)
        except PlaywrightError as exc:
            # A loaded Apache may reset a connection before it answers; a page load (GET) is then
            # simply asked again, as a shopper reloads. A form post is not: it may have arrived.
            if request.method != "GET" or "ECONNRESET" not in str(exc) or attempt == DEADLOCK_TRIES - 1:
                raise
            shopper.resets += 1
            time.sleep(0.1 * (attempt + 1))
            continue
        if response.status < 500 or DEADLOCK.encode() not in response.body():
            break
        shopper.deadlocks += 1
        time.sleep(0.05 * (attempt + 1))
    route.fulfill(response=response)
