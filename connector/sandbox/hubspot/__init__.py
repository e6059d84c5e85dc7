"""Local HubSpot CRM v3 sandbox: see app.make_app and BEHAVIOR.md for where it guesses."""

from connector.sandbox.hubspot.app import HubSpotApp, make_app
from connector.sandbox.hubspot.limits import HubSpotLimits, OAuthClient
from connector.sandbox.hubspot.store import Store

__all__ = ["HubSpotApp", "HubSpotLimits", "OAuthClient", "Store", "make_app"]
