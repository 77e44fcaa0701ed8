"""ELT for the marketing dashboard: orders CSV -> Spark -> raw -> dwh -> mrt in PostgreSQL."""
