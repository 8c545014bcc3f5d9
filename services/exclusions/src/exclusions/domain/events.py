"""Domain events of exclusions: internal facts, mapped to public contracts in service_layer/publishing.py."""
