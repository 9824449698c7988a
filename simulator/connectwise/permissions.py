"""What an integrator login may do: the APIs its flags enable, and All Records or only its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .auth import INTEGRATOR_LOGINS, Principal
from .errors import CwError

if TYPE_CHECKING:
    from .backend import Backend

# The integrator-login flag behind each API of the Datto setup guide's list.
API_FLAGS = {
    "ServiceTicket": "serviceTicketApiFlag",
    "ManagedServices": "managedServicesApiFlag",
    "Contact": "contactApiFlag",
    "Company": "companyApiFlag",
    "Activity": "activityApiFlag",
    "Invoice": "invoiceApiFlag",
    "Product": "productApiFlag",
    "Marketing": "marketingApiFlag",
    "Purchasing": "purchasingApiFlag",
    "Reporting": "reportingApiFlag",
    "System": "systemApiFlag",
    "Configuration": "configurationApiFlag",
    "Agreement": "agreementApiFlag",
    "TimeEntry": "timeEntryApiFlag",
    "Opportunity": "opportunityApiFlag",
    "Member": "memberApiFlag",
    "Project": "projectApiFlag",
    "Schedule": "scheduleApiFlag",
    "Document": "documentApiFlag",
}
API_LABELS = {
    "ServiceTicket": "Service Ticket API",
    "ManagedServices": "Managed Services API",
    "Contact": "Contact API",
    "Company": "Company API",
    "Activity": "Activity API",
    "Invoice": "Invoice API",
    "Product": "Product API",
    "Marketing": "Marketing API",
    "Purchasing": "Purchasing API",
    "Reporting": "Reporting API",
    "System": "System API",
    "Configuration": "Configuration API",
    "Agreement": "Agreement API",
    "TimeEntry": "Time Entry API",
    "Opportunity": "Opportunity API",
    "Member": "Member API",
    "Project": "Project API",
    "Schedule": "Schedule API",
    "Document": "Document API",
}


def _login(backend: Backend, principal: Principal) -> dict[str, Any] | None:
    if principal.kind != "integrator" or principal.login_id is None:
        return None
    return backend.store.get(INTEGRATOR_LOGINS, principal.login_id)


def check_api(backend: Backend, principal: Principal, api: str) -> None:
    """403 naming the API when an integrator login's flag for it is off."""
    login = _login(backend, principal)
    if login is None or login.get("canAccessAllApisFlag"):
        return
    flag = API_FLAGS[api]
    if not login.get(flag):
        raise CwError(
            403,
            "Forbidden",
            f'Integrator login "{login["username"]}" does not have the {API_LABELS[api]} enabled ({flag}).',
            [{"code": "Forbidden", "message": f"{flag} is off", "resource": "integratorLogin", "field": flag}],
        )


def visibility(backend: Backend, principal: Principal) -> Callable[[dict[str, Any]], bool] | None:
    """For a login without All Records: which records it may see (those it entered); else None."""
    login = _login(backend, principal)
    if login is None or login.get("canAccessAllRecordsFlag"):
        return None
    own = principal.identifier.casefold()
    return lambda record: (record.get("_enteredBy") or "").casefold() == own
