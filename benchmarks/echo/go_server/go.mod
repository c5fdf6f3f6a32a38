module gonet/benchmarks/echo/go_server

go 1.19
