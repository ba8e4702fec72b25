"""leadsync: Dotdigital address-book members to Salesforce Leads, declared as code."""

__version__ = "0.1.0"
