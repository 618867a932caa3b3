"""HTTP endpoints other than the platform callbacks (health; later the ledger board)."""
