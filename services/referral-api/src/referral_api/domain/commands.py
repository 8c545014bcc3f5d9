"""Commands referral-api accepts (plain dataclasses built by the entrypoints)."""
