"""revops-sync: THE MODEL funnel kept in step across HubSpot and Salesforce."""

__version__ = "0.1.0"
