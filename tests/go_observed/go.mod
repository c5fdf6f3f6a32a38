module gonet/tests/go_observed

go 1.19
