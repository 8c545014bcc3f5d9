"""Domain errors of enforcement: rule violations the API turns into problem details."""
