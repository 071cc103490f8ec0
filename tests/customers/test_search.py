"""The customer search's word index (crm_search_word): what it matches, how it stays current,
that "forget me" erases it, and that the admin's searches give the same answers with it."""
import re
import shutil
from datetime import datetime

import pytest
import sqlalchemy as sa

from shopcrm import create_app
from shopcrm.extensions import db
from shopcrm.models import Membership, SearchWord, Segment, State
from shopcrm.segmentation import search_index as search
from tests.support.apps import DEMO_NOW, base_config, create_user, dispose, login, migrate


def logged_in(app, role="viewer"):
    email, password = create_user(app, email=f"{role}@shop.test", role=role)
    client = app.test_client()
    assert login(client, email, password).status_code == 302
    return client


def found_ids(client, path, q, page=1) -> list[int]:
    html = client.get(path, query_string={"q": q, "page": page}).get_data(as_text=True)
    return [int(x) for x in re.findall(r"/crm/admin/customers/(\d+)\">#", html)]


def every_page(client, q) -> list[int]:
    """The ids on every page of a customer search, in order (the pager's "Next" until none)."""
    ids, number = [], 1
    while True:
        html = client.get("/crm/admin/customers", query_string={"q": q, "page": number}).get_data(as_text=True)
        ids += [int(x) for x in re.findall(r"/crm/admin/customers/(\d+)\">#", html)]
        if 'rel="next"' not in html:
            return ids
        number += 1
        assert number < 200


def shop_customers(app) -> list[dict]:
    from shopcrm.shop import connect_shop

    with app.app_context(), connect_shop() as conn:
        return [dict(r) for r in conn.execute(sa.text(
            "SELECT customer_id AS id, email, first_name, last_name FROM customers WHERE active = 1")).mappings()]


def answers(customer: dict, query: str) -> bool:
    """The rule the admin is promised, written out independently of the index: every word of
    the query begins a word of the names or the address (case and accents aside)."""
    import unicodedata

    def plain(text):
        text = unicodedata.normalize("NFKD", (text or "").lower())
        return "".join(c for c in text if not unicodedata.combining(c))

    words = set()
    for part in (customer["first_name"], customer["last_name"]):
        words.update(re.split(r"[\W_]+", plain(part)))
    local, _, domain = plain(customer["email"]).strip().partition("@")
    words.update([local, domain, *re.split(r"[\W_]+", local)])
    words.discard("")
    return all(any(w.startswith(q) for w in words) for q in re.split(r"[\W_]+", plain(query)) if q)


def commonest_first_name(app) -> str:
    names = {}
    for c in shop_customers(app):
        if c["first_name"]:
            names[c["first_name"]] = names.get(c["first_name"], 0) + 1
    return max(names, key=names.get)


def test_words_of_names_and_addresses():
    assert search.words_of("Zoë", "Müller-Schmidt", " Anna.Smith_42@Example.COM ") == {
        "zoe", "muller", "schmidt", "anna.smith_42", "anna", "smith", "42", "example.com"}
    assert search.words_of(None, "", None) == set()
    assert search.words_of("<script>alert(1)</script>", None, "not-an-address") == {
        "script", "alert", "1", "not-an-address", "not", "an", "address"}
    assert search.query_words("  Ann  SMI ") == ["ann", "smi"]
    assert search.query_words("%_") == []


def test_the_index_answers_name_searches_like_a_scan_would(segmented_app):
    """Customer search and segment member search, with the index, find exactly the customers
    the promised rule finds (checked against every shop customer); multi-word and accent-free
    queries too; and the index is what answers (the shop is not scanned)."""
    app = segmented_app
    with app.app_context():
        assert search.current_state() is None
        state = search.refresh()
        assert state.customers == len(shop_customers(app)) and state.words > state.customers
    customers = shop_customers(app)
    name = commonest_first_name(app)
    client = logged_in(app)
    expected = sorted(c["id"] for c in customers if answers(c, name))
    assert 50 < len(expected)  # more than a page
    first = client.get("/crm/admin/customers", query_string={"q": name}).get_data(as_text=True)
    assert f"{len(expected)} customer(s) match" in first
    assert found_ids(client, "/crm/admin/customers", name) == expected[:50]
    assert found_ids(client, "/crm/admin/customers", name, page=2) == expected[50:100]
    assert every_page(client, name) == expected
    assert every_page(client, name.upper()[:3]) == sorted(c["id"] for c in customers if answers(c, name[:3]))
    someone = next(c for c in customers if c["first_name"] and c["last_name"] and c["last_name"].isalpha())
    two_words = f"{someone['first_name'][:3]} {someone['last_name'][:3]}"
    assert someone["id"] in found_ids(client, "/crm/admin/customers", two_words)
    assert every_page(client, two_words) == sorted(c["id"] for c in customers if answers(c, two_words))
    accented = [c for c in customers if c["last_name"] and "ü" in c["last_name"]]
    if accented:
        plain = accented[0]["last_name"].replace("ü", "u")
        assert accented[0]["id"] in found_ids(client, "/crm/admin/customers", plain)

    with app.app_context():
        seg = db.session.scalars(sa.select(Segment).order_by(Segment.size.desc())).first()
        members = set(db.session.scalars(sa.select(Membership.customer_id).where(
            Membership.run_id == seg.run_id, Membership.segment_id == seg.id)))
        seg_id = seg.id
    in_segment = sorted(c["id"] for c in customers if c["id"] in members and answers(c, name))
    page = client.get(f"/crm/admin/segments/{seg_id}", query_string={"q": name}).get_data(as_text=True)
    assert f"{len(in_segment)} member(s) match" in page and "among the first" not in page
    assert [int(x) for x in re.findall(r"/crm/admin/customers/(\d+)\">#", page)] == in_segment[:50]


def test_index_rows_are_the_only_source_once_built(segmented_app):
    """With an index built, a customer the index does not hold (below its newest id) is not
    found by name: proof that the answer comes from the index, not from a shop scan."""
    app = segmented_app
    with app.app_context():
        search.refresh()
        customer = next(c for c in shop_customers(app) if c["first_name"])
        removed = db.session.execute(sa.delete(SearchWord).where(SearchWord.customer_id == customer["id"])).rowcount
        db.session.commit()
        assert removed >= 1
    client = logged_in(app)
    assert customer["id"] not in found_ids(client, "/crm/admin/customers", customer["first_name"])
    assert customer["id"] in found_ids(client, "/crm/admin/customers", customer["email"])  # the shop's e-mail index


def test_new_and_renamed_customers(tmp_path, segmented_template, demo_shop_file):
    """A customer who signs up after the build is found at once (the shop is searched above the
    last indexed id); a renamed customer stops showing under the old name at once and shows
    under the new one from the next build."""
    shutil.copy(segmented_template, tmp_path / "crm.db")
    shop = tmp_path / "shop.db"
    shutil.copy(demo_shop_file, shop)
    app = create_app(base_config(tmp_path, SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{shop}"))
    try:
        with app.app_context():
            state = search.refresh()
        writer = sa.create_engine(f"sqlite:///{shop}")  # the shop itself, not shopcrm, changes its data
        with writer.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO customers (customer_id, email, first_name, last_name, active, newsletter, created_at) "
                "VALUES (:id, 'q.z@example.org', 'Quirinella', 'Zorbas', 1, 1, :at)"),
                {"id": state.max_customer_id + 1, "at": datetime(2026, 1, 1)})
            common = commonest_first_name(app)
            conn.execute(sa.text(
                "INSERT INTO customers (customer_id, email, first_name, last_name, active, newsletter, created_at) "
                "VALUES (:id, 'n2@example.org', :name, 'Newer', 1, 1, :at)"),
                {"id": state.max_customer_id + 2, "name": common, "at": datetime(2026, 1, 2)})
            renamed = next((c["id"], c["first_name"]) for c in shop_customers(app) if c["first_name"]
                           and not answers({**c, "first_name": "Ottoline"}, c["first_name"]))
            conn.execute(sa.text("UPDATE customers SET first_name = 'Ottoline' WHERE customer_id = :id"),
                         {"id": renamed[0]})
        writer.dispose()
        client = logged_in(app)
        assert found_ids(client, "/crm/admin/customers", "quirin") == [state.max_customer_id + 1]
        assert found_ids(client, "/crm/admin/customers", "quirinella zorb") == [state.max_customer_id + 1]
        with_common = every_page(client, common)  # the indexed ones, then the newer one, last
        assert with_common[-1] == state.max_customer_id + 2 and with_common == sorted(with_common)
        assert len(with_common) == sum(1 for c in shop_customers(app) if answers(c, common))
        assert renamed[0] not in found_ids(client, "/crm/admin/customers", renamed[1])
        assert renamed[0] not in found_ids(client, "/crm/admin/customers", "ottoline")
        with app.app_context():
            again = search.refresh()
        assert again.max_customer_id == state.max_customer_id + 2
        assert found_ids(client, "/crm/admin/customers", "ottoline") == [renamed[0]]
    finally:
        dispose(app)


def test_forget_me_erases_the_words_and_export_shows_them(segmented_app):
    from shopcrm.delivery import shopper_area as customer_area

    app = segmented_app
    with app.app_context():
        search.refresh()
        customer_id = db.session.scalar(sa.select(Membership.customer_id).order_by(Membership.customer_id))
        shopper = customer_area.Shopper(customer_id=customer_id, email_hash="0" * 64)
        words = customer_area.export(shopper)["search_words"]
        assert words and words == search.words_for(customer_id)
        assert customer_area.forget(shopper)["search words"] == len(words)
        assert search.words_for(customer_id) == []


def test_the_segment_command_rebuilds_the_index(segmented_app):
    runner = segmented_app.test_cli_runner()
    result = runner.invoke(args=["shopcrm", "search-index"])
    assert result.exit_code == 0, result.output
    with segmented_app.app_context():
        state = search.current_state()
        assert f"{state.customers} customers, {state.words} words" in result.output
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SearchWord)) == state.words
        assert State.read(search.STATE_NAME) is not None


@pytest.mark.slow  # seconds: a full run, timed waits or many logins (left out of make test-fast)
def test_index_on_mariadb(mariadb_database, tmp_path, demo_shop):
    """Built and searched on MariaDB (both databases): words compare byte for byte there, so
    words that a case- or accent-insensitive collation would call equal cannot collide."""
    from shopcrm import demo

    shop_url, crm_url = mariadb_database("shop"), mariadb_database("crm")
    writer = sa.create_engine(shop_url, connect_args={"local_infile": True})
    demo.write(writer, demo_shop)
    with writer.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO customers (customer_id, email, first_name, last_name, active, newsletter, created_at) "
            "VALUES (999001, 'ae@example.org', 'Æsa', 'Aesa', 1, 1, :at)"), {"at": datetime(2026, 1, 1)})
    writer.dispose()
    app = create_app(base_config(tmp_path, SQLALCHEMY_DATABASE_URI=crm_url, SHOPCRM_SHOP_DATABASE_URI=shop_url))
    migrate(app)
    try:
        from shopcrm.segmentation.run import run_segmentation

        with app.app_context():
            run_segmentation(as_of=DEMO_NOW)
            state = search.refresh()
            assert state.customers == len(shop_customers(app)) and state.max_customer_id == 999001
            assert {"æsa", "aesa"} <= set(search.words_for(999001))
        customers = shop_customers(app)
        client = logged_in(app)
        name = commonest_first_name(app)
        assert every_page(client, name) == sorted(c["id"] for c in customers if answers(c, name))
        assert found_ids(client, "/crm/admin/customers", "aes") == [999001]
    finally:
        dispose(app)


def member_ids_found(client, seg_id, q) -> tuple[int, list[int]]:
    html = client.get(f"/crm/admin/segments/{seg_id}", query_string={"q": q}).get_data(as_text=True)
    total = int(re.search(r"(\d+) member\(s\) match", html).group(1))
    return total, [int(x) for x in re.findall(r"/crm/admin/customers/(\d+)\">#", html)]


def test_member_search_in_an_older_run_and_after_assign_new(tmp_path, segmented_template, demo_shop_file):
    """The index holds the segments of the run it was built after. A segment of another run is
    searched through the memberships; a customer placed by assign-new is found in their segment."""
    from shopcrm.segmentation.run import assign_new, run_segmentation

    shutil.copy(segmented_template, tmp_path / "crm.db")
    shop = tmp_path / "shop.db"
    shutil.copy(demo_shop_file, shop)
    app = create_app(base_config(tmp_path, SHOPCRM_SHOP_DATABASE_URI=f"sqlite:///{shop}"))
    try:
        writer = sa.create_engine(f"sqlite:///{shop}")
        with writer.begin() as conn:  # a customer in a gap of the ids, who browsed one product a lot
            taken = set(conn.execute(sa.text("SELECT customer_id FROM customers")).scalars())
            new_id = next(i for i in range(2, max(taken)) if i not in taken)
            conn.execute(sa.text(
                "INSERT INTO customers (customer_id, email, first_name, last_name, active, newsletter, created_at) "
                "VALUES (:id, 'gap@example.org', 'Wendeline', 'Gapp', 1, 1, :at)"), {"id": new_id, "at": DEMO_NOW})
            product = conn.execute(sa.text("SELECT product_id FROM products ORDER BY product_id LIMIT 1")).scalar()
            for hour in range(12):
                conn.execute(sa.text("INSERT INTO product_views (customer_id, product_id, viewed_at) "
                                     "VALUES (:c, :p, :at)"), {"c": new_id, "p": product,
                                                                "at": datetime(2026, 10, 30, hour)})
        writer.dispose()
        with app.app_context():
            old_run = db.session.scalar(sa.select(Segment.run_id))
            state = search.refresh()  # the new customer is indexed, in no segment yet (not a member)
            assert state.run_id == old_run and search.words_for(new_id)
            report = assign_new()
            assert new_id in report.customer_ids
            placed = db.session.scalar(sa.select(Membership.segment_id).where(
                Membership.run_id == old_run, Membership.customer_id == new_id))
            assert placed is not None
            assert set(db.session.scalars(sa.select(SearchWord.segment_id).where(
                SearchWord.customer_id == new_id))) == {placed}
        client = logged_in(app)
        assert member_ids_found(client, placed, "wendel gap") == (1, [new_id])
        name = commonest_first_name(app)
        customers = shop_customers(app)
        with app.app_context():
            run_segmentation(as_of=DEMO_NOW)  # a newer run; the index still holds the old run's segments
            for seg_id, run_id in db.session.execute(sa.select(Segment.id, Segment.run_id)).all():
                members = set(db.session.scalars(sa.select(Membership.customer_id).where(
                    Membership.run_id == run_id, Membership.segment_id == seg_id)))
                expected = sorted(c["id"] for c in customers if c["id"] in members and answers(c, name))
                assert member_ids_found(client, seg_id, name) == (len(expected), expected[:50]), (seg_id, run_id)
    finally:
        dispose(app)
