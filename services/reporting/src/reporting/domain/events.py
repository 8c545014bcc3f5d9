"""Domain events of reporting: internal facts, mapped to public contracts in service_layer/publishing.py."""
