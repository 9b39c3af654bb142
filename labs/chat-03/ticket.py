"""The record we extract from a support email (GIVEN: read it, do not change it).

Every field is required. A field the email does not mention is ``null`` (``None``), never left
out: that is what strict JSON-schema output expects, and it keeps "the model forgot the field"
(a validation error) apart from "the email does not say" (``None``).
"""

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, Field


class IssueCategory(StrEnum):
    """What the email is about."""

    BILLING = "billing"  # charges, invoices, coupons, subscriptions
    SHIPPING = "shipping"  # late, lost or mis-addressed deliveries, customs
    DAMAGED_ITEM = "damaged_item"  # arrived broken or became unsafe
    WRONG_ITEM = "wrong_item"  # a different item, size or colour than ordered
    RETURN = "return"  # returning an item, or a refund after a return
    ACCOUNT = "account"  # login, password, two-factor, account deletion
    TECHNICAL = "technical"  # a product that does not work as it should
    OTHER = "other"  # questions and anything else


class Urgency(StrEnum):
    """``high``: the customer says it is urgent, names a deadline in the next day or two, or
    reports a safety risk; ``low``: the customer says there is no rush; ``medium``: otherwise."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class RequestedAction(StrEnum):
    """What the customer asks us to do."""

    REFUND = "refund"
    REPLACEMENT = "replacement"
    CANCEL_ORDER = "cancel_order"
    CHANGE_ADDRESS = "change_address"
    TRACKING_UPDATE = "tracking_update"
    ACCOUNT_HELP = "account_help"
    TECHNICAL_HELP = "technical_help"
    INVOICE_CORRECTION = "invoice_correction"
    INFORMATION = "information"


class SupportTicket(BaseModel):
    """One support email, as a typed record."""

    customer_name: str = Field(description="The customer's full name, as written in the email.")
    customer_email: str = Field(
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        description="The customer's email address, as written in the email.",
    )
    order_id: str | None = Field(
        pattern=r"^ORD-\d{5}$",
        description="The order number, like ORD-10422; null if the email names no order.",
    )
    product: str | None = Field(
        description="The product, exactly as the customer names it; null if none is named."
    )
    category: IssueCategory
    urgency: Urgency
    requested_action: RequestedAction
    incident_date: date | None = Field(
        description="The date the customer gives for the problem (ordered, delivered, charged, "
        "noticed), as YYYY-MM-DD; null if the email gives none."
    )
