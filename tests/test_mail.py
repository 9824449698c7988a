"""The mail catcher: real SMTP on loopback, caught mail readable through /_sim/mail."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from cwsim.simulator.pytest_plugin import Cwsim


def send(cwsim: Cwsim, to: list[str], subject: str, body: str = "details") -> None:
    message = EmailMessage()
    message["From"] = "alerts@datto.example"
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message.set_content(body)
    smtp = cwsim.facts["smtp"]
    with smtplib.SMTP(smtp["host"], smtp["port"], timeout=10) as client:
        client.send_message(message)


def test_mail_sent_over_smtp_is_caught_and_listed(cwsim: Cwsim) -> None:
    send(cwsim, ["tech@msp.example", "Boss@MSP.example"], "CRITICAL ERROR for FS01 on acme-siris (00012E94105B)")
    (mail,) = cwsim.admin().get("mail").json()
    assert mail["from"] == "alerts@datto.example"
    assert mail["to"] == ["tech@msp.example", "Boss@MSP.example"]
    assert mail["subject"] == "CRITICAL ERROR for FS01 on acme-siris (00012E94105B)"
    assert mail["body"].strip() == "details" and mail["time"].endswith("Z")


def test_caught_mail_filters_by_recipient_subject_and_since(cwsim: Cwsim) -> None:
    send(cwsim, ["a@x.example"], "CRITICAL ERROR for FS01")
    send(cwsim, ["b@x.example"], "Warning for FS02")
    admin = cwsim.admin()
    assert [m["subject"] for m in admin.get("mail", params={"to": "B@X.example"}).json()] == ["Warning for FS02"]
    assert admin.get("mail/count", params={"subject": "critical"}).json() == {"count": 1}
    first = admin.get("mail").json()[0]["seq"]
    assert len(admin.get("mail", params={"since": first}).json()) == 1
    assert admin.get("mail", params={"since": "x"}).status_code == 400


def test_reset_and_delete_empty_the_mailbox(cwsim: Cwsim) -> None:
    send(cwsim, ["a@x.example"], "one")
    assert cwsim.admin().delete("mail").status_code == 204
    assert cwsim.admin().get("mail").json() == []
    send(cwsim, ["a@x.example"], "two")
    cwsim.admin().post("reset")
    assert cwsim.admin().get("mail/count").json() == {"count": 0}


def test_caught_mail_is_part_of_the_state_and_comes_back_with_it(cwsim: Cwsim) -> None:
    send(cwsim, ["a@x.example"], "kept")
    admin = cwsim.admin()
    state = admin.get("state").json()
    assert [m["subject"] for m in state["mail"]] == ["kept"]
    admin.delete("mail")
    assert admin.put("state", json=state).status_code == 200
    assert [m["subject"] for m in admin.get("mail").json()] == ["kept"]
    state["mail"] = [{"seq": "x"}]
    refused = admin.put("state", json=state)
    assert refused.status_code == 400 and "mail[0]" in refused.text
