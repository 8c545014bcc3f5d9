"""Domain events of referral-api: internal facts.

Mapped to public contracts in service_layer/publishing.py.
"""
