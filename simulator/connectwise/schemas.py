"""marshmallow schemas of the ConnectWise records the fake serves: fields, enums, limits, defaults.

Field names and enum values follow ConnectWise's OpenAPI models (`data/cw-manage-models.json`).
Server-set fields are `dump_only`, secrets `load_only`, and fields read on POST but never
stored are marked `transient` (and `post_only`) in their metadata.
"""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, validate

from . import rules
from .fields import CwDateTime, Flag, Int, Nested, Number, Ref, Text

BILL_OPTIONS = ["Billable", "DoNotBill", "NoCharge", "NoDefault"]
LOW_MEDIUM_HIGH = ["Low", "Medium", "High"]


def text(max_length: int | None = None, **kwargs: Any) -> Text:
    kwargs.setdefault("allow_none", True)
    validators = [validate.Length(max=max_length)] if max_length else []
    return Text(validate=validators, **kwargs)


def required_text(max_length: int | None = None, **kwargs: Any) -> Text:
    validators = [validate.Length(min=1, max=max_length)]
    return Text(required=True, validate=validators, **kwargs)


def choice(values: list[str], default: str | None = None, **kwargs: Any) -> Text:
    kwargs.setdefault("allow_none", default is None)
    if default is not None:
        kwargs["load_default"] = default
    return Text(validate=validate.OneOf(values), **kwargs)


def flag(default: bool | None = False, **kwargs: Any) -> Flag:
    return Flag(load_default=default, allow_none=True, **kwargs)


def integer(**kwargs: Any) -> Int:
    return Int(allow_none=True, **kwargs)


def number(**kwargs: Any) -> Number:
    return Number(allow_none=True, **kwargs)


def when(**kwargs: Any) -> CwDateTime:
    return CwDateTime(allow_none=True, **kwargs)


def server_set(field_type: type = Text) -> Any:
    return field_type(dump_only=True)


def transient(field_type: type = Text) -> Any:
    """Read on POST only, never stored or returned."""
    return field_type(load_only=True, allow_none=True, metadata={"transient": True, "post_only": True})


def nested(**kwargs: Any) -> Nested:
    return Nested(allow_none=True, **kwargs)


class CwSchema(Schema):
    """Unknown input fields are ignored, as ConnectWise ignores them."""

    class Meta:
        unknown = EXCLUDE
        ordered = True

    id = Int(dump_only=True)


class CompanySchema(CwSchema):
    mobileGuid = Text(dump_only=True)
    identifier = required_text(30)
    name = required_text(50)
    status = Ref("company/companies/statuses", default=rules.default_row("company/companies/statuses"))
    types = nested()
    addressLine1 = text(50)
    addressLine2 = text(50)
    city = text(50)
    state = text(50)
    zip = text(12)
    country = nested()
    phoneNumber = text(30)
    faxNumber = text(30)
    website = text(255)
    territory = nested()
    market = nested()
    accountNumber = text(30)
    defaultContact = Ref("company/contacts")
    dateAcquired = when()
    annualRevenue = number()
    numberOfEmployees = integer()
    yearEstablished = integer(validate=validate.Range(min=1900, max=9999))
    leadFlag = flag()
    unsubscribeFlag = flag()
    isVendorFlag = flag()
    deletedFlag = flag()
    dateDeleted = server_set(CwDateTime)
    deletedBy = server_set()
    site = nested()
    customFields = nested()


class ContactSchema(CwSchema):
    mobileGuid = Text(dump_only=True)
    firstName = required_text(30)
    lastName = text(30)
    company = Ref("company/companies")
    site = nested()
    title = text(100)
    department = nested()
    addressLine1 = text(50)
    addressLine2 = text(50)
    city = text(50)
    state = text(50)
    zip = text(12)
    inactiveFlag = flag()
    defaultFlag = flag()
    defaultBillingFlag = flag()
    defaultPhoneType = text()
    defaultPhoneNbr = text()
    communicationItems = nested()
    typeIds = transient(Nested)
    types = nested()
    gender = choice(["Female", "Male"])
    customFields = nested()


class MemberSchema(CwSchema):
    identifier = required_text(15)
    firstName = required_text(30)
    lastName = required_text(30)
    officeEmail = text(250)
    primaryEmail = text(250)
    title = text(50)
    licenseClass = choice(["A", "C", "F", "X"], default="F")
    defaultEmail = choice(["Office", "Mobile", "Home"], default="Office")
    defaultPhone = choice(["Office", "Mobile", "Home"], default="Office")
    agreementInvoicingDisplayOptions = choice(
        ["RemainOnInvoicingScreen", "ShowRecentInvoices"], default="RemainOnInvoicingScreen"
    )
    invoiceScreenDefaultTabFormat = choice(
        ["ShowInvoicingTab", "ShowAgreementInvoicingTab"], default="ShowInvoicingTab"
    )
    invoicingDisplayOptions = choice(
        ["RemainOnInvoicingScreen", "ShowRecentInvoices"], default="RemainOnInvoicingScreen"
    )
    hireDate = when()
    inactiveFlag = flag()
    adminFlag = flag()
    securityRole = nested()


class BoardSchema(CwSchema):
    name = required_text(50)
    location = Nested(required=True)
    department = Nested(required=True)
    inactiveFlag = flag()
    projectFlag = flag()
    signOffTemplate = nested()
    billTime = choice(BILL_OPTIONS, default="NoDefault")
    billExpense = choice(BILL_OPTIONS, default="NoDefault")
    billProduct = choice(BILL_OPTIONS, default="NoDefault")
    workRole = nested()
    workType = nested()
    autoAssignNewTicketsFlag = flag()
    sendToContactFlag = flag()
    sendToResourceFlag = flag()


class BoardStatusSchema(CwSchema):
    name = required_text(50)
    board = Ref("service/boards", dump_only=True)
    sortOrder = integer(load_default=0)
    displayOnBoard = flag(True)
    inactive = flag()
    closedStatus = flag()
    timeEntryNotAllowed = flag()
    defaultFlag = flag()
    escalationStatus = choice(
        ["NotResponded", "Responded", "ResolutionPlan", "Resolved", "NoEscalation"], default="NotResponded"
    )
    customerPortalDescription = text(60)
    customerPortalFlag = flag()


class BoardTypeSchema(CwSchema):
    name = required_text(50)
    board = Ref("service/boards", dump_only=True)
    category = choice(["Reactive", "Proactive"], default="Reactive")
    defaultFlag = flag()
    inactiveFlag = flag()
    requestForChangeFlag = flag()
    integrationXref = text(50)


class BoardSubTypeSchema(CwSchema):
    name = required_text(50)
    board = Ref("service/boards", dump_only=True)
    typeAssociationIds = nested()
    addAllTypesFlag = flag()
    removeAllTypesFlag = flag()
    inactiveFlag = flag()


class BoardItemSchema(CwSchema):
    name = required_text(50)
    board = Ref("service/boards", dump_only=True)
    inactiveFlag = flag()


class TicketSchema(CwSchema):
    mobileGuid = Text(dump_only=True)
    summary = required_text(100)
    recordType = choice(["ServiceTicket", "ProjectTicket", "ProjectIssue"], default="ServiceTicket")
    board = Ref("service/boards", default=rules.tenant_default_board)
    status = Ref("service/boards/statuses", scope="board", default=rules.board_default_status)
    company = Ref("company/companies", required=True)
    site = Ref("company/companies/sites", scope="company")
    siteName = text(50)
    contact = Ref("company/contacts", default=rules.company_default_contact)
    contactName = text(62)
    contactPhoneNumber = text(20)
    contactEmailAddress = text(250)
    type = Ref("service/boards/types", scope="board")
    subType = Ref("service/boards/subtypes", scope="board")
    item = Ref("service/boards/items", scope="board")
    team = Ref("service/boards/teams", scope="board", scope_field="boardId")
    owner = Ref("system/members")
    agreement = Ref("finance/agreements")
    priority = Ref("service/priorities", default=rules.default_row("service/priorities"))
    serviceLocation = Ref("service/locations", default=rules.default_row("service/locations"))
    source = Ref("service/sources", default=rules.default_row("service/sources"))
    severity = choice(LOW_MEDIUM_HIGH, default="Medium")
    impact = choice(LOW_MEDIUM_HIGH, default="Medium")
    externalXRef = text(100)
    poNumber = text(50)
    requiredDate = when()
    budgetHours = number()
    actualHours = server_set(Number)
    closedDate = server_set(CwDateTime)
    closedBy = server_set()
    closedFlag = server_set(Flag)
    dateResolved = server_set()
    resources = text()
    parentTicketId = integer()
    hasChildTicket = server_set(Flag)
    billTime = choice(BILL_OPTIONS, default="NoDefault")
    billExpenses = choice(BILL_OPTIONS, default="NoDefault")
    billProducts = choice(BILL_OPTIONS, default="NoDefault")
    automaticEmailContactFlag = flag()
    automaticEmailResourceFlag = flag()
    customFields = nested()
    initialDescription = transient()
    initialInternalAnalysis = transient()
    initialResolution = transient()
    processNotifications = transient(Flag)
    skipCallback = transient(Flag)


class ServiceNoteSchema(CwSchema):
    ticketId = Int(dump_only=True)
    text = text()
    detailDescriptionFlag = flag()
    internalAnalysisFlag = flag()
    resolutionFlag = flag()
    issueFlag = flag()
    internalFlag = flag()
    externalFlag = flag()
    customerUpdatedFlag = flag()
    member = Ref("system/members")
    contact = Ref("company/contacts")
    dateCreated = server_set(CwDateTime)
    createdBy = server_set()
    processNotifications = transient(Flag)


API_FLAGS = (
    "serviceTicketApiFlag",
    "managedServicesApiFlag",
    "contactApiFlag",
    "companyApiFlag",
    "activityApiFlag",
    "invoiceApiFlag",
    "productApiFlag",
    "marketingApiFlag",
    "purchasingApiFlag",
    "reportingApiFlag",
    "systemApiFlag",
    "configurationApiFlag",
    "agreementApiFlag",
)


class IntegratorLoginSchema(CwSchema):
    username = required_text(50)
    password = Text(load_only=True, allow_none=True, validate=validate.Length(max=50))
    canAccessAllRecordsFlag = flag()
    canAccessAllApisFlag = flag()
    inactiveFlag = flag()
    serviceTicketApiFlag = flag()
    managedServicesApiFlag = flag()
    contactApiFlag = flag()
    companyApiFlag = flag()
    activityApiFlag = flag()
    invoiceApiFlag = flag()
    productApiFlag = flag()
    marketingApiFlag = flag()
    purchasingApiFlag = flag()
    reportingApiFlag = flag()
    systemApiFlag = flag()
    configurationApiFlag = flag()
    agreementApiFlag = flag()
    timeEntryApiFlag = flag()
    memberApiFlag = flag()
    projectApiFlag = flag()
    documentApiFlag = flag()
    board = nested()
    member = nested()
    serviceBoardCallbackUrl = text(1000)


FIELD_TYPES = [
    "TextArea",
    "Currency",
    "Date",
    "Hyperlink",
    "IPAddress",
    "Checkbox",
    "Number",
    "Percent",
    "Text",
    "Password",
]
AGREEMENT_STATUSES = ["Active", "Cancelled", "Expired", "Inactive"]
APPLICATION_CYCLES = [
    "Contract2Weeks",
    "Contract4Weeks",
    "ContractYear",
    "CalendarMonth",
    "CalendarQuarter",
    "CalendarWeek",
    "ContractQuarter",
    "CalendarYear",
]


class ConfigurationTypeSchema(CwSchema):
    name = required_text(50)
    inactiveFlag = flag()
    systemFlag = flag()


class ConfigurationTypeQuestionSchema(CwSchema):
    configurationType = Ref("company/configurations/types", dump_only=True)
    question = required_text(1000)
    fieldType = Text(required=True, validate=validate.OneOf(FIELD_TYPES))
    entryType = Text(required=True, validate=validate.OneOf(["Date", "EntryField", "List", "Option"]))
    sequenceNumber = Number(required=True)
    numberOfDecimals = integer()
    requiredFlag = flag()
    inactiveFlag = flag()


class ConfigurationStatusSchema(CwSchema):
    description = required_text(50)
    closedFlag = flag()
    defaultFlag = flag()


class ConfigurationSchema(CwSchema):
    mobileGuid = Text(dump_only=True)
    name = required_text(100)
    type = Ref("company/configurations/types", required=True)
    status = Ref("company/configurations/statuses", default=rules.default_configuration_status)
    company = Ref("company/companies", required=True)
    contact = Ref("company/contacts")
    site = nested()
    locationId = integer()
    businessUnitId = integer()
    deviceIdentifier = text(100)
    serialNumber = text(250)
    modelNumber = text(50)
    tagNumber = text(50)
    purchaseDate = when()
    installationDate = when()
    installedBy = Ref("system/members")
    warrantyExpirationDate = when()
    vendorNotes = text()
    notes = text()
    macAddress = text(25)
    lastLoginName = text(100)
    billFlag = flag()
    backupSuccesses = integer()
    backupIncomplete = integer()
    backupFailed = integer()
    backupRestores = integer()
    lastBackupDate = when()
    backupServerName = text(50)
    backupBillableSpaceGb = number()
    backupProtectedDeviceList = text()
    backupYear = integer()
    backupMonth = integer()
    ipAddress = text(50)
    defaultGateway = text(50)
    osType = text(250)
    osInfo = text(250)
    cpuSpeed = text(30)
    ram = text(30)
    localHardDrives = text()
    parentConfigurationId = integer()
    vendor = Ref("company/companies")
    manufacturer = nested()
    manufacturerPartNumber = text(50)
    questions = nested()
    activeFlag = flag(True)
    managementLink = text(1000)
    remoteLink = text(1000)
    sla = nested()
    showRemoteFlag = flag()
    showAutomateFlag = flag()
    needsRenewalFlag = flag()
    customFields = nested()


class ConfigurationLinkSchema(Schema):
    """A configuration attached to a ticket or an agreement: `{"id": 5}` or `{"deviceIdentifier": "..."}`."""

    class Meta:
        unknown = EXCLUDE

    id = Int(allow_none=True, load_only=True, metadata={"transient": True})
    deviceIdentifier = Text(allow_none=True, load_only=True, metadata={"transient": True})
    configuration = Ref("company/configurations", dump_only=True)


class AgreementTypeSchema(CwSchema):
    name = required_text(50)
    defaultFlag = flag()
    inactiveFlag = flag()
    prePaymentFlag = flag()
    employeeCompRate = choice(["Actual", "Hourly"], default="Actual")
    employeeCompNotExceed = choice(["Billing", "Amount", "Percent"], default="Billing")
    invoicingCycle = choice(["ContractYear", "CalendarYear"], default="CalendarYear")
    billTime = choice(BILL_OPTIONS, default="Billable")
    billExpenses = choice(BILL_OPTIONS, default="Billable")
    billProducts = choice(BILL_OPTIONS, default="Billable")
    applicationUnits = choice(["Amount", "Hours", "Incidents"])
    applicationCycle = choice(APPLICATION_CYCLES)
    billAmount = number()
    taxableFlag = flag()
    prorateFlag = flag()
    invoiceDescription = text(4000)
    integrationXRef = text(50)


class AgreementSchema(CwSchema):
    name = required_text(100)
    type = Ref("finance/agreements/types", required=True)
    company = Ref("company/companies", required=True)
    contact = Ref("company/contacts", required=True, scope="company")
    site = nested()
    location = nested()
    department = nested()
    parentAgreement = Ref("finance/agreements")
    customerPO = text(50)
    agreementStatus = choice(AGREEMENT_STATUSES, default="Active")
    startDate = when()
    endDate = when()
    noEndingDateFlag = flag(True)
    cancelledFlag = flag()
    dateCancelled = when()
    reasonCancelled = text(100)
    workOrder = text(20)
    internalNotes = text()
    applicationUnits = choice(["Amount", "Hours", "Incidents"])
    applicationLimit = number()
    applicationCycle = choice(APPLICATION_CYCLES)
    applicationUnlimitedFlag = flag()
    oneTimeFlag = flag()
    coverAgreementTime = flag()
    coverAgreementProduct = flag()
    coverAgreementExpense = flag()
    coverSalesTax = flag()
    billAmount = number()
    billOneTimeFlag = flag()
    taxable = flag()
    prorateFlag = flag()
    invoiceDescription = text(4000)
    employeeCompRate = choice(["Actual", "Hourly"], default="Actual")
    employeeCompNotExceed = choice(["Billing", "Amount", "Percent"], default="Billing")
    invoicingCycle = choice(["ContractYear", "CalendarYear"], default="CalendarYear")
    billTime = choice(BILL_OPTIONS, default="Billable")
    billExpenses = choice(BILL_OPTIONS, default="Billable")
    billProducts = choice(BILL_OPTIONS, default="Billable")
    billToCompany = Ref("company/companies")
    billToContact = Ref("company/contacts")
    customFields = nested()


class AdditionSchema(CwSchema):
    agreementId = Int(dump_only=True)
    product = Ref("procurement/catalog", required=True)
    quantity = number(load_default=1.0)
    lessIncluded = number()
    unitPrice = number()
    unitCost = number()
    billCustomer = Text(required=True, validate=validate.OneOf(["Billable", "DoNotBill", "NoCharge"]))
    effectiveDate = when()
    cancelledDate = when()
    taxableFlag = flag()
    serialNumber = text(50)
    invoiceDescription = text(4000)
    purchaseItemFlag = flag()
    specialOrderFlag = flag()
    description = text(4000)
    sequenceNumber = number()
    uom = text(30)
    prorateCurrentPeriodFlag = flag()
    billedQuantity = server_set(Number)
    extPrice = server_set(Number)
    extCost = server_set(Number)
    margin = server_set(Number)
    agreementStatus = server_set()
    customFields = nested()


class CatalogItemSchema(CwSchema):
    identifier = required_text(25)
    description = required_text(60)
    inactiveFlag = flag()
    subcategory = Nested(required=True)
    type = Nested(required=True)
    productClass = choice(["Agreement", "Bundle", "Inventory", "NonInventory", "Service"], default="NonInventory")
    serializedFlag = flag()
    serializedCostFlag = flag()
    phaseProductFlag = flag()
    unitOfMeasure = nested()
    minStockLevel = integer()
    price = number()
    cost = number()
    priceAttribute = choice(["FixedFee", "NotToExceed", "OverrideRate", "TimeAndMaterials"])
    taxableFlag = flag()
    dropShipFlag = flag()
    specialOrderFlag = flag()
    customerDescription = required_text(60)
    manufacturer = nested()
    manufacturerPartNumber = text(50)
    vendor = Ref("company/companies")
    vendorSku = text(50)
    notes = text()
    integrationXRef = text(50)
    category = nested()
    recurringFlag = flag()
    recurringRevenue = number()
    recurringCost = number()
    recurringOneTimeFlag = flag()
    recurringCycleType = choice(["ContractYear", "CalendarYear"])
    calculatedPriceFlag = flag()
    calculatedCostFlag = flag()
    billableOption = choice(BILL_OPTIONS)
    customFields = nested()


class ManagedDevicesIntegrationSchema(CwSchema):
    name = required_text(50)
    solution = required_text(50)
    portalUrl = text(1000)
    loginBy = Text(required=True, validate=validate.OneOf(["Global", "Member"]))
    globalLoginUsername = text(50)
    globalLoginPassword = Text(load_only=True, allow_none=True, validate=validate.Length(max=50))
    defaultBillingLevel = Text(required=True, validate=validate.OneOf(["Detail", "Summary"]))
    managementItSetupType = text(50)
    matchOnSerialNumberFlag = flag()
    configBillCustomerFlag = flag()
    disableNewCrossReferencesFlag = flag()
    integratorLogin = Ref("system/integratorlogins")
    defaultLocation = nested()
    defaultDepartment = nested()


class CrossReferenceSchema(CwSchema):
    managedDevicesIntegration = Ref("company/managedDevicesIntegrations", dump_only=True)
    vendorType = text(50)
    vendorLevel = text(50)
    configurationType = Ref("company/configurations/types")
    agreementType = Ref("finance/agreements/types")
    product = Ref("procurement/catalog")
    inactiveFlag = flag()


class ManagedDevicesLoginSchema(CwSchema):
    managedDevicesIntegration = Ref("company/managedDevicesIntegrations", dump_only=True)
    username = required_text(50)
    password = Text(load_only=True, allow_none=True, validate=validate.Length(max=50))
    member = Ref("system/members", required=True)


class ManagedDevicesNotificationSchema(CwSchema):
    managedDevicesIntegration = Ref("company/managedDevicesIntegrations", dump_only=True)
    notifyWho = Nested(required=True)
    logType = Text(
        required=True,
        validate=validate.OneOf(
            ["All", "Error", "NewManagedSolution", "NewDeviceType", "NewConfiguration", "NewAddition", "Info"]
        ),
    )
    member = Ref("system/members")


class ActivitySchema(CwSchema):
    name = required_text(100)
    company = Ref("company/companies")
    contact = Ref("company/contacts")
    notes = text()
    dateStart = when()
    dateEnd = when()


class InvoiceSchema(CwSchema):
    invoiceNumber = required_text(30)
    type = choice(
        ["Agreement", "CreditMemo", "DownPayment", "Miscellaneous", "Progress", "Standard"], default="Standard"
    )
    company = Ref("company/companies")
    date = when()
    total = number()
    balance = number()


class MarketingGroupSchema(CwSchema):
    name = required_text(50)
    description = text(100)
    inactiveFlag = flag()


class PurchaseOrderSchema(CwSchema):
    poNumber = required_text(50)
    vendorCompany = Ref("company/companies")
    poDate = when()
    total = number()
    closedFlag = flag()


class ReportSchema(CwSchema):
    name = required_text(100)
