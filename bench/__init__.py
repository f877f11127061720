"""Tools that run the site as real processes: the loopback stack and the benchmark."""
