"""Business rules and transactions, shared by the API, the CLI, the scheduler and the workers."""
