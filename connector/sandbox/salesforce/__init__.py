"""Local Salesforce REST sandbox (HTTPS) that the unmodified simple-salesforce client talks to."""

from .app import SalesforceApp, make_app
from .tls import make_tls

__all__ = ["SalesforceApp", "make_app", "make_tls"]
