"""The referral-api domain: plain Python, no framework or adapter imports."""
