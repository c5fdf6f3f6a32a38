// Command go_server is a TCP echo server written the way Go's users write one:
// one goroutine per connection that Reads into a 4 KiB buffer and Writes back
// what it read. It is the Go side of the echo comparison in benchmarks/echo.
//
// Usage: go_server -addr=127.0.0.1:7000 [-procs=N]
// -addr=unix:/path listens on a Unix socket instead (net.Listen("unix", path)).
// -procs sets GOMAXPROCS (0 leaves the runtime default or the GOMAXPROCS
// environment variable). Prints "listening on ADDR" once it accepts.
// Build static: CGO_ENABLED=0 go build.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"runtime"
	"strings"
)

func serve(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		if _, err := c.Write(buf[:n]); err != nil {
			return
		}
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "listen address: host:port (TCP) or unix:/path")
	procs := flag.Int("procs", 0, "GOMAXPROCS (0: runtime default / $GOMAXPROCS)")
	flag.Parse()
	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}
	network, address, prefix := "tcp", *addr, ""
	if strings.HasPrefix(*addr, "unix:") {
		network, address, prefix = "unix", strings.TrimPrefix(*addr, "unix:"), "unix:"
	}
	ln, err := net.Listen(network, address)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stdout, "listening on %s%s\n", prefix, ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Print(err)
			continue
		}
		go serve(c)
	}
}
