"""Training the churn and activation models (tracked in MLflow)."""
