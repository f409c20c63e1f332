"""Remote clients: Katana and Luca over HTTP, the shared Luca session, the Katana budget."""
