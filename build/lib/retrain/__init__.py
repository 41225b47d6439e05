"""GitOps retraining of a flight-delay model."""
