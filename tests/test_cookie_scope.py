"""shopcrm's cookies stay under its own path: the shop beside it at / never receives them."""
from tests.support.apps import create_user, login


def test_admin_cookies_are_scoped_to_the_mount(segmented_app):
    email, password = create_user(segmented_app)
    client = segmented_app.test_client()
    response = login(client, email, password)
    assert response.status_code == 302
    cookies = response.headers.getlist("Set-Cookie")
    session = next(c for c in cookies if c.startswith("session="))
    assert "Path=/crm;" in session or session.endswith("Path=/crm"), session
    for cookie in cookies:
        assert "Path=/;" not in cookie and not cookie.endswith("Path=/"), f"a cookie for the whole site: {cookie}"
        assert not cookie.startswith("remember_token="), f"Flask-Login's default name, which a shop may use: {cookie}"
    # The scoped cookie still carries the login to every shopcrm page.
    assert client.get("/crm/admin/").status_code == 200
    assert client.get("/crm/admin/segments").status_code == 200


def test_a_configured_cookie_path_wins(make_app):
    app = make_app(SESSION_COOKIE_PATH="/")
    email, password = create_user(app)
    cookies = login(app.test_client(), email, password).headers.getlist("Set-Cookie")
    session = next(c for c in cookies if c.startswith("session="))
    assert "Path=/;" in session or session.endswith("Path=/"), session
