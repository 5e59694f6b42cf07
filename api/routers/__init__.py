"""One router per resource: rotas, run sheets, health."""
