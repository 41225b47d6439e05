"""The example domain, NYC flights 2013: the data contract, its cross-column rules, the weather join and derived
features, and the bundled monthly batches. A team with other data rewrites this room (README: Bring your own data)."""
