"""When to retrain: drift, live performance, staleness and volume judged from the service's inference log and late
labels, and the alert (issue text, webhook) that asks for a retrain."""
