"""PostgreSQL: the store shared by several processes, its migrations, and the REST pace they share."""
