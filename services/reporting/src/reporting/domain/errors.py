"""Domain errors of reporting: rule violations the API turns into problem details."""
