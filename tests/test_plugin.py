"""The pytest plugin, as a user's project meets it: registered by entry point, reset per test."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow  # each test runs a user's test session under pytester

pytest_plugins = ["pytester"]


def test_a_users_tests_get_a_served_fake_reset_before_each_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_first(cwsim):
            api = cwsim.session()
            created = api.post("service/tickets", json={"summary": "a", "company": {"id": 1}})
            assert created.status_code == 201
            assert api.get("service/tickets/count").json() == {"count": 1}

        def test_second_sees_a_fresh_fake(cwsim):
            assert cwsim.session().get("service/tickets/count").json() == {"count": 0}
            assert cwsim.url.startswith("http://127.0.0.1:")

        def test_integrator_session(cwsim):
            assert cwsim.session(integrator=True).get("service/boards").status_code == 200
            assert cwsim.admin().get("health").json()["status"] == "ok"
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--cwsim-companies", "4")
    result.assert_outcomes(passed=3)


def test_a_server_error_fails_the_test_that_caused_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_breaks_the_server(cwsim):
            def explode(*args, **kwargs):
                raise RuntimeError("boom")
            cwsim.world.backend.query = explode
            assert cwsim.session().get("service/tickets").status_code == 500
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--cwsim-companies", "2")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*cwsim served errors during this test*", "*RuntimeError: boom*"])


def test_a_tenant_file_and_a_tenant_loaded_by_a_test_do_not_leak(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        ACME = '''
        settings:
          companyId: acme
          apiKeys: [{publicKey: p, privateKey: q, member: api}]
        members: [{identifier: api, firstName: A, lastName: B}]
        '''

        def test_loads_another_tenant(cwsim):
            assert cwsim.company_id == "cwsim"
            assert cwsim.admin().post("tenant", data=ACME).status_code == 200

        def test_gets_the_sessions_tenant_back(cwsim):
            assert cwsim.company_id == "cwsim"
            companies = cwsim.session().get("company/companies").json()
            assert [c["identifier"] for c in companies] == ["Northwind", "Contoso", "Fabrikam"]
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--cwsim-tenant", "default")
    result.assert_outcomes(passed=2)


def test_the_fleet_clock_mail_and_journal_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import smtplib
        from email.message import EmailMessage

        def test_fleet_and_clock(cwsim_fleet, cwsim_clock):
            devices = cwsim_fleet.devices()
            assert devices and all(len(d["serialNumber"]) == 12 for d in devices)
            before = cwsim_clock.now()
            moved = cwsim_clock.advance("PT6H")
            assert moved["mode"] == "stepped" and cwsim_clock.now() > before
            serial = devices[0]["serialNumber"]
            cwsim_fleet.patch(serial, offsiteUsedBytes=123)
            assert cwsim_fleet.device(serial)["offsiteUsedBytes"] == 123

        def test_mail(cwsim, cwsim_mail):
            message = EmailMessage()
            message["From"], message["To"], message["Subject"] = "a@x.example", "b@x.example", "hello"
            message.set_content("body")
            with smtplib.SMTP(cwsim.facts["smtp"]["host"], cwsim.facts["smtp"]["port"], timeout=10) as smtp:
                smtp.send_message(message)
            (mail,) = cwsim_mail.wait_for(1, to="b@x.example")
            assert mail["subject"] == "hello"

        def test_journal_assertion(cwsim, cwsim_journal):
            api = cwsim.session()
            summary = "Datto SIRIS 00012E94105B: Backup failed"
            api.post("service/tickets", json={"summary": summary, "company": {"id": 1}})
            api.post("service/tickets", json={"summary": "Other", "company": {"id": 1}})
            cwsim_journal.assert_one_post("/service/tickets", containing="00012E94105B")
            try:
                cwsim_journal.assert_one_post("/service/tickets")
            except AssertionError as error:
                assert "found 2" in str(error)
            else:
                raise AssertionError("two POSTs must fail the assertion")

        def test_connectwise_config(cwsim_connectwise):
            assert cwsim_connectwise.company_id == "cwsim"
            assert cwsim_connectwise.api_url.endswith("/v4_6_release/apis/3.0")
            assert cwsim_connectwise.manage_url.startswith("127.0.0.1:")
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--cwsim-companies", "4")
    result.assert_outcomes(passed=4)


def test_seed_and_tenant_markers_apply_to_one_test_only(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        def names(cwsim):
            return [c["name"] for c in cwsim.session().get("company/companies", params={"pageSize": 100}).json()]

        def test_session_tenant(cwsim):
            pytest.session_names = names(cwsim)

        @pytest.mark.cwsim_seed(99)
        def test_other_seed(cwsim):
            assert names(cwsim) != pytest.session_names

        @pytest.mark.cwsim_tenant("datto-login-wrong-case")
        def test_other_tenant(cwsim):
            logins = cwsim.session().get("system/integratorlogins").json()
            assert [login["username"] for login in logins] == ["dattocw"]

        def test_back_to_the_session_tenant(cwsim):
            assert names(cwsim) == pytest.session_names
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", "--cwsim-companies", "4")
    result.assert_outcomes(passed=4)
