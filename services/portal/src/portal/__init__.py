"""The portal: server-rendered pages over the services' public REST APIs (it owns no domain data)."""
