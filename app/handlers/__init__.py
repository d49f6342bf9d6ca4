"""Inbox handlers by topic, registered on the router by ``app.inbox_handlers.build_router``."""
