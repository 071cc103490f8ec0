"""Request limits: a body larger than allowed is refused with 413 *before* it is read — checked
on a real gunicorn over a socket, the worker's memory watched — and a form field, a template, a
file upload each have their size; Apache's LimitRequestBody is documented in deploy/apache/."""
from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

from shopcrm.request_guard import takes_upload
from tests.support.apps import create_user, csrf_token, login
from tests.support.security import ROOT, gunicorn, memory_kb, raw_request, worker_pids

MB = 1024 * 1024


@pytest.fixture
def served(tmp_path, crm_template, demo_shop_file):
    """A real gunicorn (one sync worker) on a copy of the migrated database."""
    shutil.copy(crm_template, tmp_path / "crm.db")
    with gunicorn(tmp_path, tmp_path / "crm.db", demo_shop_file) as (port, master):
        yield port, master


def post_head(path: str, length: int | None, extra: str = "") -> str:
    size = f"Content-Length: {length}\r\n" if length is not None else "Transfer-Encoding: chunked\r\n"
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"{size}{extra}Connection: close\r\n\r\n")


def test_an_anonymous_100_mb_post_is_refused_with_413_before_the_worker_reads_it(served):
    port, master = served
    assert raw_request(port, "GET /crm/admin/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 0)[0] == 200
    (worker,) = worker_pids(master)
    before = memory_kb(worker)
    status, sent, seconds, answer = raw_request(port, post_head("/crm/admin/login", 100 * MB), 100 * MB)
    after = memory_kb(worker)
    print(f"\n100 MB POST: {status} after {sent / MB:.2f} MB sent in {seconds:.3f} s; worker RSS "
          f"{before['VmRSS'] / 1024:.0f} -> {after['VmRSS'] / 1024:.0f} MB, peak {before['VmHWM'] / 1024:.0f} -> "
          f"{after['VmHWM'] / 1024:.0f} MB")
    assert status == 413
    assert sent < 16 * MB  # the kernel's socket buffers at most: the worker never asked for the body
    assert seconds < 5
    assert after["VmHWM"] - before["VmHWM"] < 8 * 1024  # kB: nothing of the 100 MB reached the worker's memory
    page = answer.decode("utf-8", "replace")
    assert "Too large" in page and "crm.css" in page and "Traceback" not in page  # the styled page


def test_a_chunked_body_without_a_length_is_not_read_either(served):
    """Without a Content-Length, Werkzeug reads no body unless the server marks the stream as
    terminated (then it stops at the limit): either way the worker never holds 100 MB."""
    port, master = served
    assert raw_request(port, "GET /crm/admin/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 0)[0] == 200
    (worker,) = worker_pids(master)
    before = memory_kb(worker)
    status, sent, _, answer = raw_request(port, post_head("/crm/admin/login", None), 100 * MB, chunked=True)
    assert status in (400, 413) and sent < 20 * MB, answer[:2000]
    assert memory_kb(worker)["VmHWM"] - before["VmHWM"] < 8 * 1024


def test_the_limits_are_settings_and_a_form_field_has_its_own(make_app):
    app = make_app(MAX_CONTENT_LENGTH=64 * 1024, MAX_FORM_MEMORY_SIZE=16 * 1024)
    client = app.test_client()
    token = csrf_token(client, "/crm/admin/login")
    # One field of a multipart form (Werkzeug parses those incrementally; an urlencoded form is
    # one piece, held to MAX_CONTENT_LENGTH as a whole).
    big_field = client.post("/crm/admin/login", content_type="multipart/form-data",
                            data={"csrf_token": token, "email": "a@b.c", "password": "x" * 20000})
    assert big_field.status_code == 413
    too_long = client.post("/crm/admin/login", data={"csrf_token": token, "email": "a@b.c", "password": "x",
                                                     "pad": ["y" * 10000] * 8})
    assert too_long.status_code == 413 and "The limit is 64 KB" in too_long.get_data(as_text=True)
    assert client.post("/crm/admin/login", data={"csrf_token": token, "email": "a@b.c",
                                                 "password": "x" * 100}).status_code == 200


def test_a_marketer_cannot_save_a_10_mb_template(segmented_app):
    email, password = create_user(segmented_app, email="marketer@shop.test", role="marketer")
    client = segmented_app.test_client()
    login(client, email, password)
    token = csrf_token(client, "/crm/admin/campaigns/new")
    response = client.post("/crm/admin/campaigns/new", data={"csrf_token": token, "name": "Big", "html": "x" * 10 * MB})
    assert response.status_code == 413
    one_field = client.post("/crm/admin/campaigns/new", content_type="multipart/form-data",
                            data={"csrf_token": token, "name": "Big", "html": "x" * (MB + 1)})
    assert one_field.status_code == 413  # under MAX_CONTENT_LENGTH, over MAX_FORM_MEMORY_SIZE


def test_a_view_that_takes_files_gets_the_upload_limit(make_app):
    app = make_app(MAX_CONTENT_LENGTH=64 * 1024, SHOPCRM_MAX_UPLOAD_BYTES=512 * 1024)

    def upload():
        from flask import request

        return str(len(request.files["file"].read()))

    def plain():
        from flask import request

        return str(len(request.form.get("text", "")))

    app.add_url_rule("/crm-test/upload", "crm_admin.test_upload", takes_upload(upload), methods=["POST"])
    app.add_url_rule("/crm-test/plain", "crm_admin.test_plain", plain, methods=["POST"])
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    import io

    file_of = lambda size: {"file": (io.BytesIO(b"a" * size), "list.csv")}  # noqa: E731
    assert client.post("/crm/crm-test/upload", data=file_of(300 * 1024)).get_data(as_text=True) == str(300 * 1024)
    assert client.post("/crm/crm-test/upload", data=file_of(600 * 1024)).status_code == 413
    assert client.post("/crm/crm-test/plain", data={"text": "b" * 100 * 1024}).status_code == 413


def test_the_apache_configurations_limit_bodies_to_what_shopcrm_accepts():
    from shopcrm.config import defaults

    upload = defaults()["SHOPCRM_MAX_UPLOAD_BYTES"]
    for name in ("shopcrm.conf", "shopcrm-gunicorn.conf", "shopcrm-xampp-windows.conf"):
        text = (ROOT / "deploy" / "apache" / name).read_text()
        limits = [int(v) for v in re.findall(r"^\s*LimitRequestBody\s+(\d+)", text, re.M)]
        limits += [int(v) for v in re.findall(r"Content-Length\} -gt (\d+)", text)]
        assert limits and all(upload <= v <= 2 * upload for v in limits), name
    assert "Include" in (ROOT / "deploy" / "apache" / "shopcrm-lampp.conf").read_text()  # shopcrm.conf's limit


APACHE = Path("/usr/sbin/apache2")
MODULES = Path("/usr/lib/apache2/modules")


@pytest.mark.slow
def test_apache_in_front_of_gunicorn_refuses_a_30_mb_post_before_forwarding_it(served, tmp_path):
    """The shipped deploy/apache/shopcrm-gunicorn.conf, unchanged, in a standalone Apache on
    loopback in front of the real gunicorn; stopped through its own PID file."""
    import subprocess

    from tests.support.apps import need_service
    from tests.support.smtp import free_port

    needed = ["mod_mpm_event.so", "mod_authz_core.so", "mod_alias.so", "mod_proxy.so", "mod_proxy_http.so",
              "mod_headers.so", "mod_rewrite.so"]
    if not APACHE.exists() or not all((MODULES / m).exists() for m in needed):
        need_service("Apache", "apache2 with mod_proxy_http and mod_rewrite is not installed")
    port, _ = served
    listen = free_port()
    root = tmp_path / "apache"
    root.mkdir()
    modules = "".join(f"LoadModule {m[4:-3]}_module {MODULES / m}\n" for m in needed)
    (root / "httpd.conf").write_text(
        f"Define SHOPCRM_ROOT {ROOT}\nDefine SHOPCRM_UPSTREAM 127.0.0.1:{port}\nServerRoot {root}\n"
        f"ServerName localhost\nListen 127.0.0.1:{listen}\nPidFile {root}/httpd.pid\nErrorLog {root}/error.log\n"
        f"{modules}Include {ROOT}/deploy/apache/shopcrm-gunicorn.conf\n")
    started = subprocess.run([str(APACHE), "-f", str(root / "httpd.conf"), "-k", "start"], capture_output=True,
                             text=True, timeout=60)
    assert started.returncode == 0, started.stderr
    try:
        deadline = time.monotonic() + 20
        while not (root / "httpd.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        get = "GET /crm/admin/login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        assert raw_request(listen, get, 0)[0] == 200  # forwarded to shopcrm
        status, sent, seconds, answer = raw_request(listen, post_head("/crm/admin/login", 30 * MB), 30 * MB)
        assert status == 413 and sent < 16 * MB and b"gunicorn" not in answer.split(b"\r\n\r\n")[0]
        small = raw_request(listen, post_head("/crm/admin/login", 10), 10)
        assert small[0] == 400  # a small form reaches shopcrm (and fails its CSRF check)
    finally:
        subprocess.run([str(APACHE), "-f", str(root / "httpd.conf"), "-k", "stop"], capture_output=True, timeout=60)
        deadline = time.monotonic() + 20
        while (root / "httpd.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
