"""The pytest plugin, as a user's project meets it: registered by entry point, reset per test."""

from __future__ import annotations

import pytest

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
