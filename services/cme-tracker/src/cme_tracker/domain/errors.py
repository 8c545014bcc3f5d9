"""Domain errors of cme-tracker: rule violations the API turns into problem details."""
