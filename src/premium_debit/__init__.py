"""premium-debit: withholds resident medical-insurance premiums from social-security-card
accounts."""

__version__ = "0.1.0"
