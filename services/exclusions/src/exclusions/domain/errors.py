"""Domain errors of exclusions: rule violations the API turns into problem details."""
