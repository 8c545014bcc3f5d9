"""Domain events of cme-tracker: internal facts, mapped to public contracts in service_layer/publishing.py."""
