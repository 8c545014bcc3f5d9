"""Domain errors of referral-api: rule violations the API turns into problem details."""
