"""Booking use cases: people (profiles, dependents, assisted registration), bookings, the standby list."""
