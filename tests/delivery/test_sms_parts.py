"""The SMS building blocks: segments, phone numbers, keywords, quiet hours, settings, and the
Twilio provider against a local fake of Twilio's API (loopback only), webhook signatures included."""
from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time as time_module
from datetime import UTC, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from werkzeug.datastructures import MultiDict

from shopcrm.delivery.sms import settings as sms_settings
from shopcrm.delivery.sms.keywords import Intent, KeywordClassifier, normalise
from shopcrm.delivery.sms.phones import normalise_phone
from shopcrm.delivery.sms.provider import (
    SmsInDoubt,
    SmsPermanentError,
    SmsSetupError,
    SmsTemporaryError,
)
from shopcrm.delivery.sms.quiet_hours import QuietHours, may_send, next_allowed, zone
from shopcrm.delivery.sms.segments import GSM7, GSM_BASIC, GSM_EXTENSION, UCS2, measure
from shopcrm.delivery.sms.twilio_provider import (
    RoutedHttpClient,
    TwilioProvider,
    valid_signature,
)
from shopcrm.errors import ConfigError
from tests.fakes.twilio_api import FakeTwilio

BERLIN = zone("Europe/Berlin")
MOBILE_DE = "+4915123456789"


# --- segments ------------------------------------------------------------------------------------

def test_gsm_alphabet_is_the_full_03_38_table():
    assert len(GSM_BASIC) == 127  # 128 positions, less the escape
    assert len(GSM_EXTENSION) == 10
    assert {"@", "£", "$", "¥", "Δ", "ß", "¤", "¡", "§", "¿", "à", "\n", "\r", "Ç"} <= GSM_BASIC
    assert not GSM_BASIC & GSM_EXTENSION
    assert "ç" not in GSM_BASIC and "`" not in GSM_BASIC  # look alike, not in the table


@pytest.mark.parametrize("length, segments", [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3)])
def test_pure_gsm_segment_boundaries(length, segments):
    size = measure("a" * length)
    assert (size.encoding, size.characters, size.units, size.segments) == (GSM7, length, length, segments)
    assert size.forcing_ucs2 == ()


def test_german_text_stays_gsm_and_the_euro_sign_counts_twice():
    size = measure("Grüße aus Köln: 5 € Rabatt für Sie!")
    assert size.encoding == GSM7
    assert size.units == size.characters + 1


@pytest.mark.parametrize("text, units, segments", [
    ("€" * 80, 160, 1),
    ("€" * 80 + "a", 161, 2),
    ("a" * 159 + "[", 161, 2),
    # 306 septets would fit two parts, but the escape pair may not be split: the € opens part 2
    ("a" * 152 + "€" + "a" * 152, 306, 3),
], ids=["80-euro", "80-euro-plus-1", "159-plus-bracket", "euro-at-part-edge"])
def test_extension_characters_take_two_septets_that_stay_together(text, units, segments):
    size = measure(text)
    assert (size.encoding, size.units, size.segments) == (GSM7, units, segments)


@pytest.mark.parametrize("text, units, segments", [
    ("a" * 68 + "🎉", 70, 1),
    ("a" * 69 + "🎉", 71, 2),
    ("a" * 69 + "ç", 70, 1),
    ("a" * 70 + "ç", 71, 2),
    ("a" * 134, None, None),  # GSM: a control row for the next line
    ("a" * 66 + "🎉" + "a" * 66, 134, 3),  # the surrogate pair opens part 2 instead of splitting
], ids=["70-with-emoji", "71-with-emoji", "70-with-c-cedilla", "71-with-c-cedilla", "134-gsm",
        "emoji-at-part-edge"])
def test_one_non_gsm_character_makes_it_ucs2_counted_in_utf16_units(text, units, segments):
    size = measure(text)
    if units is None:
        assert size.encoding == GSM7 and size.segments == 1
        return
    assert (size.encoding, size.units, size.segments) == (UCS2, units, segments)
    assert size.characters == len(text)


def test_the_emoji_that_triples_the_cost_is_named():
    size = measure("Nur heute: 20 % auf alles im Shop, Code SOMMER20 an der Kasse angeben. "
                   "Gilt bis Mitternacht, solange der Vorrat reicht. Viel Spaß beim Stöbern! 🎉🎉 – Ihr Shop")
    assert size.encoding == UCS2
    assert size.forcing_ucs2 == ("🎉", "–")  # each once, in order; the en dash is not GSM either
    assert (size.segments_as_gsm, size.segments) == (1, 3)


def test_empty_text_is_no_segment():
    assert (measure("").segments, measure("").encoding) == (0, GSM7)


# --- phone numbers -------------------------------------------------------------------------------

@pytest.mark.parametrize("text, region, e164", [
    ("0151 23456789", "DE", MOBILE_DE),
    ("(0151) 234 567 89", "DE", MOBILE_DE),
    ("0049 151 23456789", "DE", MOBILE_DE),
    ("+49 151 23456789", "GB", MOBILE_DE),  # written internationally: its own country wins
    ("07400 123456", "GB", "+447400123456"),
    ("(201) 555-0123", "US", "+12015550123"),  # FIXED_LINE_OR_MOBILE in the North American plan
    ("  0170-1234567 ", "de", "+491701234567"),
])
def test_usable_numbers_become_e164(text, region, e164):
    check = normalise_phone(text, region)
    assert check.usable and (check.e164, check.reason) == (e164, None)


@pytest.mark.parametrize("text, region, reason", [
    ("030 1234567", "DE", "not a mobile number"),
    ("020 7946 0958", "GB", "not a mobile number"),
    ("0800 1234567", "DE", "not a mobile number"),
    ("n/a", "DE", "not a number"),
    ("call me", "DE", "not a number"),
    ("x" * 80, "DE", "not a number"),
    ("12", "DE", "invalid for region DE"),
    ("+44 7400 12345", "DE", "invalid for region GB"),
    ("+999 1234567", "DE", "unknown country code"),
    ("", "DE", "empty"),
    ("   ", "DE", "empty"),
    (None, "DE", "empty"),
])
def test_unusable_numbers_say_why(text, region, reason):
    check = normalise_phone(text, region)
    assert not check.usable and (check.e164, check.reason) == (None, reason)


def test_an_unknown_default_region_is_refused():
    with pytest.raises(ValueError, match="DE, AT, GB or US"):
        normalise_phone("0151 23456789", "Germany")


# --- keywords ------------------------------------------------------------------------------------

@pytest.mark.parametrize("body, intent", [
    ("STOP", Intent.OPT_OUT), ("stop", Intent.OPT_OUT), (" Stop. ", Intent.OPT_OUT), ("STOP!\n", Intent.OPT_OUT),
    ("StopAll", Intent.OPT_OUT), ("unsubscribe", Intent.OPT_OUT), ("Cancel", Intent.OPT_OUT),
    ("END", Intent.OPT_OUT), ("quit", Intent.OPT_OUT), ("ＳＴＯＰ", Intent.OPT_OUT),
    ("START", Intent.OPT_IN), ("unstop", Intent.OPT_IN), ("Yes", Intent.OPT_IN),
    ("HELP", Intent.HELP), ("info?", Intent.HELP),
    ("STOP PLEASE", Intent.NONE), ("please stop", Intent.NONE), ("I can't stop buying here", Intent.NONE),
    ("STOP ALL", Intent.NONE), ("S T O P", Intent.NONE), ("stopp", Intent.NONE), ("", Intent.NONE),
    ("Where is my order?", Intent.NONE),
])
def test_default_keywords_match_the_whole_message_only(body, intent):
    assert KeywordClassifier().classify(body) is intent


def test_shop_words_in_its_own_language():
    classifier = KeywordClassifier(extra_opt_out=["STOPP", "Abmelden"], extra_opt_in=["ANMELDEN"],
                                   extra_help=["Hilfe"])
    assert classifier.classify("stopp") is Intent.OPT_OUT
    assert classifier.classify("ABMELDEN.") is Intent.OPT_OUT
    assert classifier.classify("Anmelden") is Intent.OPT_IN
    assert classifier.classify("HILFE") is Intent.HELP
    assert classifier.classify("bitte abmelden") is Intent.NONE
    assert classifier.classify("STOP") is Intent.OPT_OUT  # the defaults stay
    assert "abmelden" in classifier.keywords(Intent.OPT_OUT)


def test_a_word_cannot_be_in_two_classes_or_be_two_words():
    with pytest.raises(ValueError, match="both opt-out and opt-in"):
        KeywordClassifier(extra_opt_in=["stop"])
    with pytest.raises(ValueError, match="one word"):
        KeywordClassifier(extra_opt_out=["bitte aufhören"])


def test_normalise_keeps_inner_text():
    assert normalise("  ¡Stop, now!  ") == "stop, now"


# --- quiet hours ---------------------------------------------------------------------------------

def berlin(*args) -> datetime:
    """A Berlin wall-clock time (not in a gap or fold) as an aware UTC moment."""
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)


@pytest.mark.parametrize("wall, allowed", [
    ((2026, 1, 14, 20, 59), True), ((2026, 1, 14, 21, 0), False), ((2026, 1, 14, 23, 30), False),
    ((2026, 1, 15, 0, 0), False), ((2026, 1, 15, 7, 59), False), ((2026, 1, 15, 8, 0), True),
    ((2026, 7, 15, 12, 0), True),
])
def test_default_window_crosses_midnight(wall, allowed):
    assert may_send(berlin(*wall), BERLIN) is allowed


def test_next_allowed_is_the_next_morning_or_now():
    assert next_allowed(berlin(2026, 1, 14, 22, 0), BERLIN) == berlin(2026, 1, 15, 8, 0)
    assert next_allowed(berlin(2026, 1, 15, 3, 0), BERLIN) == berlin(2026, 1, 15, 8, 0)
    now = berlin(2026, 1, 15, 9, 17)
    assert next_allowed(now, BERLIN) == now


def test_the_night_the_clocks_go_forward_ends_at_8_local():
    # Last Sunday of March 2026: 02:00 CET becomes 03:00 CEST; that night is an hour shorter.
    result = next_allowed(datetime(2026, 3, 28, 21, 0, tzinfo=UTC), BERLIN)  # 22:00 CET
    assert result == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)  # 08:00 CEST, not 07:00 UTC
    assert result.astimezone(BERLIN).hour == 8


def test_the_night_the_clocks_go_back_ends_at_8_local():
    # Last Sunday of October 2026: 03:00 CEST becomes 02:00 CET; that night is an hour longer.
    result = next_allowed(datetime(2026, 10, 24, 20, 0, tzinfo=UTC), BERLIN)  # 22:00 CEST
    assert result == datetime(2026, 10, 25, 7, 0, tzinfo=UTC)  # 08:00 CET, not 06:00 UTC
    assert result.astimezone(BERLIN).hour == 8


def test_a_window_end_in_the_spring_gap_is_reached_when_the_clock_jumps():
    quiet = QuietHours.parse("21:00-02:30")  # 02:30 does not exist on 29 March 2026 in Berlin
    result = next_allowed(datetime(2026, 3, 28, 23, 0, tzinfo=UTC), BERLIN, quiet)  # 00:00 CET
    assert result == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # the jump from 02:00 CET to 03:00 CEST
    assert may_send(result, BERLIN, quiet)
    assert not may_send(result - timedelta(seconds=1), BERLIN, quiet)  # 01:59:59 CET


def test_a_window_end_in_the_autumn_fold_is_its_next_occurrence():
    quiet = QuietHours.parse("21:00-02:30")  # 02:30 happens twice on 25 October 2026
    first = next_allowed(datetime(2026, 10, 24, 21, 0, tzinfo=UTC), BERLIN, quiet)  # 23:00 CEST
    assert first == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    assert may_send(datetime(2026, 10, 25, 0, 45, tzinfo=UTC), BERLIN, quiet)  # 02:45 CEST
    repeated = datetime(2026, 10, 25, 1, 5, tzinfo=UTC)  # 02:05 CET, the clock's second pass
    assert not may_send(repeated, BERLIN, quiet)
    assert next_allowed(repeated, BERLIN, quiet) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 CET


@pytest.mark.parametrize("window", ["21:00-08:00", "21:00-02:30", "02:15-02:45", "01:00-03:30", "12:00-14:00",
                                    "00:00-00:00"])
@pytest.mark.parametrize("change", [datetime(2026, 3, 29, 1, 0, tzinfo=UTC), datetime(2026, 10, 25, 1, 0, tzinfo=UTC)])
def test_next_allowed_is_the_first_allowed_moment_around_dst_changes(window, change):
    """A brute-force cross-check: from moments 13 minutes apart over two days around each
    change, the answer is allowed, and nothing in between (on a 5-minute grid and one second
    before it) is."""
    quiet = QuietHours.parse(window)
    start = change - timedelta(hours=26)
    for step in range(0, 52 * 60, 13):
        now = start + timedelta(minutes=step)
        result = next_allowed(now, BERLIN, quiet)
        assert result >= now and may_send(result, BERLIN, quiet), (now, result)
        if result > now:
            assert not may_send(result - timedelta(seconds=1), BERLIN, quiet), (now, result)
            probe = now
            while probe < result:
                assert not may_send(probe, BERLIN, quiet), (now, probe, result)
                probe += timedelta(minutes=5)


def test_quiet_hours_settings_and_naive_moments():
    assert QuietHours.parse("21:00-08:00") == QuietHours(time(21), time(8))
    assert QuietHours.parse("22:30 – 7:15") == QuietHours(time(22, 30), time(7, 15))
    assert QuietHours.parse("").empty and QuietHours.parse("none").empty
    for bad in ("21-8", "25:00-08:00", "21:00-08:60", "evening"):
        with pytest.raises(ValueError, match="quiet hours"):
            QuietHours.parse(bad)
    with pytest.raises(ValueError, match="timezone-aware"):
        may_send(datetime(2026, 1, 1, 12, 0), BERLIN)
    with pytest.raises(ValueError, match="IANA"):
        zone("Mars/Olympus")


# --- settings ------------------------------------------------------------------------------------

def sms_config(**overrides) -> dict:
    config = {
        "SHOPCRM_TWILIO_ACCOUNT_SID": "AC" + "0123456789abcdef" * 2,
        "SHOPCRM_TWILIO_AUTH_TOKEN": "token-0123456789",
        "SHOPCRM_TWILIO_FROM": "+15005550006",
        "SHOPCRM_SMS_DEFAULT_REGION": "DE",
        "SHOPCRM_SMS_TIME_ZONE": "Europe/Berlin",
    }
    config.update(overrides)
    return config


def test_settings_load_with_defaults_for_what_is_not_set():
    loaded = sms_settings.load(sms_config(SHOPCRM_SMS_OPT_OUT_KEYWORDS="STOPP, ABMELDEN"))
    assert loaded.quiet_hours == QuietHours(time(21), time(8))
    assert loaded.timeout == 30.0 and loaded.api_url is None and loaded.default_region == "DE"
    assert loaded.keywords.classify("abmelden") is Intent.OPT_OUT
    assert sms_settings.sms_problems({}) == []  # SMS off: nothing required


def test_settings_problems_are_listed_together():
    config = sms_config(SHOPCRM_TWILIO_ACCOUNT_SID="AC123", SHOPCRM_TWILIO_AUTH_TOKEN="", SHOPCRM_TWILIO_FROM=None,
                        SHOPCRM_SMS_DEFAULT_REGION=None, SHOPCRM_SMS_TIME_ZONE="Berlin",
                        SHOPCRM_SMS_QUIET_HOURS="late", SHOPCRM_TWILIO_API_URL="http://twilio.example:80",
                        SHOPCRM_SMS_OPT_IN_KEYWORDS=("STOP",))
    with pytest.raises(ConfigError) as error:
        sms_settings.load(config)
    message = str(error.value)
    for expected in ("ACCOUNT_SID must be AC", "AUTH_TOKEN is required", "needs a sender",
                     "SHOPCRM_SMS_DEFAULT_REGION is required", "SHOPCRM_SMS_TIME_ZONE: 'Berlin'",
                     "SHOPCRM_SMS_QUIET_HOURS", "unencrypted", "both opt-out and opt-in"):
        assert expected in message
    assert "Traceback" not in message


def test_settings_accept_a_local_fake_or_https_and_a_messaging_service():
    loaded = sms_settings.load(sms_config(SHOPCRM_TWILIO_API_URL="http://127.0.0.1:8089/",
                                          SHOPCRM_TWILIO_FROM=None,
                                          SHOPCRM_TWILIO_MESSAGING_SERVICE_SID="MG" + "ab" * 16))
    assert loaded.api_url == "http://127.0.0.1:8089" and loaded.sender is None
    assert sms_settings.sms_problems(sms_config(SHOPCRM_TWILIO_API_URL="https://proxy.example")) == []
    assert sms_settings.sms_problems(sms_config(SHOPCRM_TWILIO_FROM="MyShop")) == []  # alphanumeric ID
    with pytest.raises(ConfigError, match="SMS is off"):
        sms_settings.load({})


# --- the provider against the fake API -----------------------------------------------------------


def provider_for(fake: FakeTwilio, **overrides) -> TwilioProvider:
    config = sms_config(SHOPCRM_TWILIO_ACCOUNT_SID=fake.account_sid, SHOPCRM_TWILIO_AUTH_TOKEN=fake.auth_token,
                        SHOPCRM_TWILIO_API_URL=fake.base_url, SHOPCRM_SMS_TIMEOUT=2.0)
    config.update(overrides)
    return TwilioProvider(sms_settings.load(config))


def test_send_returns_twilios_message_id_and_reaches_the_api_once(fake):
    sid = provider_for(fake).send(MOBILE_DE, "Hallo 👋", "https://shop.test/crm/sms/status?m=1")
    assert sid.startswith("SM") and len(sid) == 34
    [message] = fake.messages
    assert (message["sid"], message["to"], message["body"], message["from"], message["status_callback"]) == \
        (sid, MOBILE_DE, "Hallo 👋", "+15005550006", "https://shop.test/crm/sms/status?m=1")
    assert message["status"] == "queued"


def test_send_through_a_messaging_service(fake):
    service = "MG" + "cd" * 16
    provider_for(fake, SHOPCRM_TWILIO_FROM=None, SHOPCRM_TWILIO_MESSAGING_SERVICE_SID=service).send(MOBILE_DE, "hi")
    [message] = fake.messages
    assert (message["from"], message["messaging_service_sid"], message["status"]) == (None, service, "accepted")
    assert message["status_callback"] is None


def test_429_is_temporary_with_the_wait_and_a_retry_sends_once(fake):
    provider = provider_for(fake)
    fake.fail_next(429, retry_after=7)
    with pytest.raises(SmsTemporaryError) as error:
        provider.send(MOBILE_DE, "offer")
    assert (error.value.status, error.value.code, error.value.retry_after, error.value.request_sent) == \
        (429, 20429, 7.0, True)
    assert fake.messages == []
    provider.send(MOBILE_DE, "offer")  # the caller's retry, after the wait it was told
    assert len(fake.sent_to(MOBILE_DE)) == 1 and fake.requests == 2


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_temporary(fake, status):
    fake.fail_next(status)
    with pytest.raises(SmsTemporaryError) as error:
        provider_for(fake).send(MOBILE_DE, "offer")
    assert error.value.status == status and error.value.retry_after is None
    assert fake.messages == []


@pytest.mark.parametrize("code, opted_out", [(21211, False), (21614, False), (21610, True)])
def test_refused_numbers_are_permanent_and_stop_replies_say_so(fake, code, opted_out):
    fake.refuse("+4915100000000", code)
    with pytest.raises(SmsPermanentError) as error:
        provider_for(fake).send("+4915100000000", "offer")
    assert (error.value.code, error.value.status, error.value.opted_out) == (code, 400, opted_out)
    assert str(code) in str(error.value)
    assert fake.messages == []


def test_wrong_credentials_are_a_setup_error_not_a_bad_message(fake):
    with pytest.raises(SmsSetupError) as error:
        provider_for(fake, SHOPCRM_TWILIO_AUTH_TOKEN="not-the-token").send(MOBILE_DE, "offer")
    assert (error.value.status, error.value.code) == (401, 20003)


@pytest.mark.parametrize("mode, delay, timeout", [("drop", 0.0, 5.0), ("delay", 5.0, 0.5)])
def test_a_lost_reply_is_in_doubt_although_the_message_arrived(fake, mode, delay, timeout):
    provider = provider_for(fake, SHOPCRM_SMS_TIMEOUT=timeout)
    fake.lose_reply(mode, seconds=delay)
    started = time_module.monotonic()
    with pytest.raises(SmsInDoubt):
        provider.send(MOBILE_DE, "offer")
    elapsed = time_module.monotonic() - started
    if mode == "drop":  # the closed connection is noticed at once, not after the timeout
        assert elapsed < timeout / 2
    else:
        assert timeout <= elapsed < delay
    assert len(fake.sent_to(MOBILE_DE)) == 1  # why a blind retry would text the shopper twice
    assert provider.send(MOBILE_DE, "next").startswith("SM")  # the client recovers


def test_the_fake_stops_promptly_while_a_reply_is_held_back():
    before = set(threading.enumerate())
    fake = FakeTwilio().start()
    provider = provider_for(fake, SHOPCRM_SMS_TIMEOUT=20.0)
    fake.lose_reply("delay", seconds=30)
    outcome: list = []

    def send():
        try:
            outcome.append(provider.send(MOBILE_DE, "offer"))
        except Exception as exc:  # noqa: BLE001 - the outcome is asserted below
            outcome.append(exc)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    deadline = time_module.monotonic() + 5
    while not fake.messages and time_module.monotonic() < deadline:
        time_module.sleep(0.01)
    port = int(fake.base_url.rsplit(":", 1)[1])
    started = time_module.monotonic()
    fake.stop()
    sender.join(timeout=5)
    assert time_module.monotonic() - started < 3
    assert len(outcome) == 1 and isinstance(outcome[0], SmsInDoubt)
    while set(threading.enumerate()) - before and time_module.monotonic() < deadline + 5:
        time_module.sleep(0.01)
    assert not set(threading.enumerate()) - before  # no server or handler thread left waiting
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_a_gateway_timeout_is_in_doubt_not_temporary(fake):
    fake.fail_next(504)
    with pytest.raises(SmsInDoubt) as error:
        provider_for(fake).send(MOBILE_DE, "offer")
    assert error.value.status == 504


def test_no_connection_is_temporary_and_not_sent():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = sms_config(SHOPCRM_TWILIO_API_URL=f"http://127.0.0.1:{port}", SHOPCRM_SMS_TIMEOUT=2.0)
    with pytest.raises(SmsTemporaryError) as error:
        TwilioProvider(sms_settings.load(config)).send(MOBILE_DE, "offer")
    assert not isinstance(error.value, SmsInDoubt) and error.value.request_sent is False


def _self_signed(tmp_path):
    """A certificate for 127.0.0.1 that no authority signed."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def test_an_untrusted_certificate_is_a_setup_error_and_nothing_is_sent(tmp_path):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*_self_signed(tmp_path))
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def handshake_once():
            listener.settimeout(5)
            try:
                connection, _ = listener.accept()
                with context.wrap_socket(connection, server_side=True):
                    pass
            except (OSError, ssl.SSLError):
                pass  # the client refuses the certificate and closes

        thread = threading.Thread(target=handshake_once, daemon=True)
        thread.start()
        config = sms_config(SHOPCRM_TWILIO_API_URL=f"https://127.0.0.1:{port}", SHOPCRM_SMS_TIMEOUT=2.0)
        with pytest.raises(SmsSetupError, match="certificate"):
            TwilioProvider(sms_settings.load(config)).send(MOBILE_DE, "offer")
        thread.join(timeout=5)


def test_the_client_is_routed_only_when_told_and_ignores_twilio_environment(monkeypatch, fake):
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?x=1"
    assert RoutedHttpClient(None).route(url) == url
    assert RoutedHttpClient("http://127.0.0.1:9").route(url) == "http://127.0.0.1:9/2010-04-01/Accounts/AC1/Messages.json?x=1"
    monkeypatch.setenv("TWILIO_REGION", "ie1")
    monkeypatch.setenv("TWILIO_EDGE", "dublin")
    provider = provider_for(fake)
    assert provider.client.get_hostname(url) == url  # settings only: no region or edge from the environment
    provider.send(MOBILE_DE, "offer")
    assert len(fake.messages) == 1


# --- webhook signatures --------------------------------------------------------------------------

class _Receiver(BaseHTTPRequestHandler):
    """Records the status callbacks the fake posts, as a webhook endpoint would see them."""

    received: list

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        self.received.append((self.path, dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    received: list = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Receiver", (_Receiver,), {"received": received}))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_status_callbacks_carry_a_signature_that_validates(fake, receiver):
    base, received = receiver
    callback = f"{base}/crm/sms/status?m=42"
    sid = provider_for(fake).send(MOBILE_DE, "offer", callback)
    assert fake.post_status(sid, "delivered") == 204
    assert fake.post_status(sid, "undelivered", error_code=30003) == 204
    (path, headers, body), (_, headers2, body2) = received
    assert path == "/crm/sms/status?m=42"
    form = parse_qs(body)
    assert form["MessageSid"] == [sid] and form["MessageStatus"] == ["delivered"] and form["To"] == [MOBILE_DE]
    signature = headers["X-Twilio-Signature"]
    params = {key: values[0] for key, values in form.items()}
    assert valid_signature(fake.auth_token, callback, params, signature)
    assert valid_signature(fake.auth_token, callback, MultiDict(parse_qs(body2)), headers2["X-Twilio-Signature"])
    assert parse_qs(body2)["ErrorCode"] == ["30003"]


def test_forged_or_misaddressed_callbacks_are_refused(fake, receiver):
    base, received = receiver
    callback = f"{base}/crm/sms/status?m=42"
    sid = provider_for(fake).send(MOBILE_DE, "offer", callback)
    fake.post_status(sid, "failed", error_code=30007)
    _, headers, body = received[0]
    params = {key: values[0] for key, values in parse_qs(body).items()}
    signature = headers["X-Twilio-Signature"]
    assert valid_signature(fake.auth_token, callback, params, signature)
    forged = dict(params, MessageStatus="delivered")
    forged.pop("ErrorCode")
    assert not valid_signature(fake.auth_token, callback, forged, signature)
    assert not valid_signature(fake.auth_token, f"{base}/crm/sms/status?m=43", params, signature)
    assert not valid_signature(fake.auth_token, "https://other.example/crm/sms/status?m=42", params, signature)
    assert not valid_signature("another-token", callback, params, signature)
    assert not valid_signature(fake.auth_token, callback, params, None)
    assert not valid_signature(fake.auth_token, callback, params, "")
