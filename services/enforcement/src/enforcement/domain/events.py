"""Domain events of enforcement: internal facts, mapped to public contracts in service_layer/publishing.py."""
