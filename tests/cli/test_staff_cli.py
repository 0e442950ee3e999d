"""`sargs staff mfa enrol|reset`: the key, URI and recovery codes printed once, and what they do
at the console's sign-in."""

from __future__ import annotations

import re

import pyotp
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from sargs.bootstrap import build, create_app, example_policy_paths, sms_sender
from sargs.entrypoints.cli import output
from sargs.entrypoints.cli.main import make_cli
from sargs.entrypoints.container import Container
from tests.web_helpers import csrf_of

PASSWORD = "dpo-password-long-enough"
EMAIL = "dpo@lmt.example"


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("SARGS_DATABASE_URL", db_url)
    monkeypatch.setattr(output.console, "width", 200)
    return CliRunner()


APP = make_cli(
    build=build, create_app=create_app, example_policies=example_policy_paths, sms_sender=sms_sender
)


def password_step(browser: TestClient) -> str:
    page = browser.get("/console/login")
    data = {"csrf": csrf_of(page.text), "email": EMAIL, "password": PASSWORD}
    r = browser.post("/console/login", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text
    return str(r.headers["location"])


def test_enrol_prints_a_working_key_and_recovery_codes_once_and_reset_forgets_them(
    cli: CliRunner, container: Container
) -> None:
    add = ["staff", "add", "--email", EMAIL, "--name", "Data Officer", "--role", "dpo", "--password-stdin"]
    assert cli.invoke(APP, add, input=PASSWORD + "\n").exit_code == 0
    r = cli.invoke(APP, ["staff", "mfa", "enrol", EMAIL, "--no-qr"])
    assert r.exit_code == 0, r.output
    key = re.search(r"^key: ([A-Z2-7]{32})$", r.output, re.M)
    uri = re.search(r"^uri: (otpauth://totp/\S+)$", r.output, re.M)
    codes = re.findall(r"^  ([a-z2-7]{4}-[a-z2-7]{4})$", r.output, re.M)
    assert key and uri and len(codes) == 10
    assert pyotp.parse_uri(uri.group(1)).secret == key.group(1) and "issuer=Sargs" in uri.group(1)
    again = cli.invoke(APP, ["staff", "mfa", "enrol", EMAIL])
    assert again.exit_code == 1 and "reset` it first" in again.output and key.group(1) not in again.output
    with TestClient(create_app(container)) as browser:
        assert password_step(browser) == "/console/login/code"
        page = browser.get("/console/login/code")
        code = pyotp.TOTP(key.group(1)).at(container.clock.now())
        r2 = browser.post(
            "/console/login/code", data={"csrf": csrf_of(page.text), "code": code}, follow_redirects=False
        )
        assert r2.status_code == 303 and r2.headers["location"] == "/console/"
        assert browser.get("/console/", follow_redirects=False).status_code == 200
        reset = cli.invoke(APP, ["staff", "mfa", "reset", EMAIL])
        assert reset.exit_code == 0, reset.output
        assert browser.get("/console/", follow_redirects=False).status_code == 303  # its sessions ended
        assert password_step(browser) == "/console/login/enrol"  # must enrol again
        page = browser.get("/console/login/code")
        r3 = browser.post("/console/login/code", data={"csrf": csrf_of(page.text), "code": codes[0]})
        assert r3.status_code == 401  # the old recovery codes are spent


def test_enrol_with_a_qr_code_and_unknown_accounts(cli: CliRunner, container: Container) -> None:
    add = ["staff", "add", "--email", EMAIL, "--name", "D", "--role", "operator", "--password-stdin"]
    assert cli.invoke(APP, add, input=PASSWORD + "\n").exit_code == 0
    r = cli.invoke(APP, ["staff", "mfa", "enrol", EMAIL])
    assert r.exit_code == 0 and ("█" in r.output or "▀" in r.output), r.output
    # an operator who enrolled of their own accord is asked for the code too
    with TestClient(create_app(container)) as browser:
        assert password_step(browser) == "/console/login/code"
    for command in ("enrol", "reset"):
        r = cli.invoke(APP, ["staff", "mfa", command, "nobody@lmt.example"])
        assert r.exit_code == 1 and "no staff account" in r.output
