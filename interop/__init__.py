"""FHIR R4: the read API, the SMART Scheduling Links feed and the registry export, over the domains' use cases."""
