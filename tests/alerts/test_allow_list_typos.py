"""The webhook allow list against typos and disguises: ``10.20.0.0/0`` (every IPv4 address,
the cloud metadata service and the server's own loopback included) and ``::ffff:0:0/96`` (all
of IPv4, mapped) are refused when set, as a scan's ``--scope`` is, and a value the list cannot
read stops delivery with a usage error, not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from phaseout.alert.destinations import AllowList, DestinationError, check_destination
from phaseout.app import alerts as use
from phaseout.errors import UsageError
from phaseout.store import Store
from phaseout.store.schema import meta
from phaseout.store.settings import check_setting


@pytest.mark.parametrize(
    "value", ["10.20.0.0/0", "hooks.example.org, ::/0", "10.0.0.0/7", "::ffff:0:0/96", "300.1.1.1/8"]
)
def test_wide_disguised_or_unreadable_blocks_are_refused_when_set(value: str) -> None:
    with pytest.raises(UsageError):
        check_setting("alert-webhook-allow", value)


@pytest.mark.parametrize("value", ["10.20.0.0/0", "::ffff:a14:0/112"])
def test_the_list_itself_refuses_them(value: str) -> None:
    with pytest.raises(DestinationError):
        AllowList.parse(value)


def test_ordinary_lists_still_work() -> None:
    value = check_setting("alert-webhook-allow", "hooks.example.org 10.20.0.0/16, fd00:1:2::/48, 127.0.0.1")
    assert value == "hooks.example.org, 10.20.0.0/16, fd00:1:2::/48, 127.0.0.1"
    allow = AllowList.parse(value)
    assert allow.allows_address("10.20.3.4") and not allow.allows_address("10.21.0.1")


def test_an_unreadable_stored_list_is_a_usage_error_at_delivery(tmp_path: Path) -> None:
    with Store.open(str(tmp_path / "a.db")) as store:
        with store.engine.begin() as conn:  # written by an older version, or by hand
            conn.execute(meta.insert().values(key="setting.alert-webhook-allow", value="300.1.1.1/8"))
        with pytest.raises(UsageError, match="alert-webhook-allow"):
            use.deliver(store, "deliverer")


@pytest.mark.parametrize("env", ["PHASEOUT_DB", "AWS_SECRET_ACCESS_KEY", "PGPASSWORD", "HOME"])
def test_an_email_alert_cannot_send_another_server_secret_as_its_smtp_password(env: str) -> None:
    """The dashboard's admins name the variable, the relay gets its value: only variables made
    for it (SMTP_..., PHASEOUT_SMTP_...) may be named, not the database URL or cloud keys."""
    config = {"to": ["ops@example.org"], "sender": "p@example.org", "host": "mail.example.org", "password_env": env}
    with pytest.raises(DestinationError, match="SMTP_"):
        check_destination("email", config, allow=AllowList.parse(""), plain_localhost=False)


@pytest.mark.parametrize("env", ["SMTP_PASSWORD", "PHASEOUT_SMTP_PASSWORD"])
def test_smtp_password_variables_are_accepted(env: str) -> None:
    config = {"to": ["ops@example.org"], "sender": "p@example.org", "host": "mail.example.org", "password_env": env}
    assert check_destination("email", config, allow=AllowList.parse(""), plain_localhost=False)["password_env"] == env
