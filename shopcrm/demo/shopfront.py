"""The demo shop's own pages: a home page, product pages at the addresses the demo's products
link to (``/product.php?id=…``), and their pictures (``/img/p….jpg``, drawn as SVG).

Only ``flask shopcrm demo-serve`` mounts it, at ``/`` beside shopcrm at ``/crm``, so the
product links in the demo's e-mails (and the click redirect behind them) lead to a page that
exists. It reads the demo shop's tables (the generic schema) and writes nothing; a real
installation has its own shop at ``/`` and never serves this.
"""
from __future__ import annotations

import hashlib
from html import escape

import sqlalchemy as sa
from flask import Flask, abort, render_template, request

from ..config import TEMPLATE_DIR
from ..formatting import FILTERS

FEATURED = 24


def create_shop_app(shop_url: str, settings: dict) -> Flask:
    """A small Flask app for the demo shop at ``shop_url`` (SQLAlchemy URL). ``settings`` gives
    the shop's name, currency, locale and the panel's address (``SHOPCRM_PUBLIC_URL``)."""
    app = Flask("shopcrm_demo_shop", template_folder=str(TEMPLATE_DIR), static_folder=None)
    app.config.update(settings)
    app.jinja_env.filters.update(FILTERS)
    engine = sa.create_engine(shop_url)
    meta = sa.MetaData()
    products = sa.Table("products", meta, autoload_with=engine)
    categories = sa.Table("categories", meta, autoload_with=engine)
    brands = sa.Table("brands", meta, autoload_with=engine)

    def product_rows(query):
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def listing():
        return (sa.select(products.c.product_id, products.c.name, products.c.price, products.c.url,
                          products.c.image_url, categories.c.name.label("category"))
                .join(categories, categories.c.category_id == products.c.category_id)
                .where(products.c.active == 1))

    @app.route("/")
    def home():
        category = request.args.get("category", type=int)
        query = listing().order_by(products.c.product_id).limit(FEATURED)
        if category is not None:
            query = query.where(products.c.category_id == category)
        with engine.connect() as conn:
            all_categories = conn.execute(sa.select(categories.c.category_id, categories.c.name)
                                          .order_by(categories.c.name)).all()
        return render_template("demo_shop/home.html", products=product_rows(query), categories=all_categories,
                               category=category)

    @app.route("/product.php")
    def product():
        product_id = request.args.get("id", type=int)
        if product_id is None:
            abort(404)
        found = product_rows(
            sa.select(products, categories.c.name.label("category"), brands.c.name.label("brand"))
            .join(categories, categories.c.category_id == products.c.category_id)
            .outerjoin(brands, brands.c.brand_id == products.c.brand_id)
            .where(products.c.product_id == product_id))
        if not found:
            abort(404)
        item = found[0]
        related = product_rows(listing().where(products.c.category_id == item["category_id"],
                                               products.c.product_id != product_id)
                               .order_by(products.c.product_id).limit(4))
        return render_template("demo_shop/product.html", product=item, related=related)

    @app.route("/img/<name>")
    def picture(name: str):
        """A placeholder picture for any product: its number on a colour of its own."""
        label = escape(name.rsplit(".", 1)[0].lstrip("p")[:12])
        hue = int(hashlib.sha256(name.encode()).hexdigest()[:4], 16) % 360
        svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="400" height="300" viewBox="0 0 400 300">'
               f'<rect width="400" height="300" fill="hsl({hue},55%,86%)"/>'
               f'<text x="200" y="165" font-family="sans-serif" font-size="40" text-anchor="middle" '
               f'fill="hsl({hue},45%,30%)">#{label}</text></svg>')
        return svg, 200, {"Content-Type": "image/svg+xml", "Cache-Control": "max-age=86400"}

    @app.errorhandler(404)
    def not_found(error):
        return render_template("demo_shop/not_found.html"), 404

    return app


class DemoDispatcher:
    """``/crm…`` to shopcrm, everything else to the demo shop: one port, like Apache in production."""

    def __init__(self, shop_wsgi, crm_wsgi, mount: str = "/crm"):
        self.shop, self.crm, self.mount = shop_wsgi, crm_wsgi, mount.rstrip("/")

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == self.mount or path.startswith(self.mount + "/"):
            return self.crm(environ, start_response)
        return self.shop(environ, start_response)
