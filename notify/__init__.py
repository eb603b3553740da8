"""Messages to people: the outbox every message is written to, the relay that sends it, the transports (log, SMTP,
webhook gateways) and the templates."""
