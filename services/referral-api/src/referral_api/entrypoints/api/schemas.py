"""Request and response bodies of referral-api's API."""
