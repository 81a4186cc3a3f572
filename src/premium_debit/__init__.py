"""premium-debit: resident medical-insurance premium withholding from social-security-card accounts."""

__version__ = "0.1.0"
