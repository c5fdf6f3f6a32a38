module gonet/benchmarks/go_compare

go 1.19
