"""Referral API (Digital Front Door).

Schools, MIS integrations and agencies tell the local authority about a child:
referrals, roll changes and attendance.
"""

__version__ = "0.1.0"
