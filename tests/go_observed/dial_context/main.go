// Observes Go 1.19's Dialer.DialContext, ListenConfig.Listen(ctx) and the Control hook
// that gonet's net/net.h reproduces; //tests:dial_context_test asserts the values
// printed here, and dial_context.out holds the output of go1.19.8 linux/amd64. Loopback
// only; ports are printed as PORT. Run: cd tests/go_observed && go run ./dial_context
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"
)

var port string

// errText prints err with the black hole's port replaced by PORT.
func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return strings.ReplaceAll(err.Error(), port, "PORT")
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// boundPort is the local port of the socket behind c (0: not bound yet).
func boundPort(c syscall.RawConn) int {
	p := -1
	c.Control(func(fd uintptr) {
		sa, err := syscall.Getsockname(int(fd))
		if err != nil {
			return
		}
		switch a := sa.(type) {
		case *syscall.SockaddrInet4:
			p = a.Port
		case *syscall.SockaddrInet6:
			p = a.Port
		}
	})
	return p
}

// mostly runs f n times and returns the text it returned most often. Go's lookup under a
// ctx already done races the lookup's result against ctx.Done() in a select, so it
// usually fails with the lookup's error but now and then lets the lookup through (the
// dial or listen then goes on: the dial fails naming the address, the listen succeeds).
func mostly(n int, f func() error) string {
	count := map[string]int{}
	best := ""
	for i := 0; i < n; i++ {
		t := errText(f())
		count[t]++
		if count[t] > count[best] {
			best = t
		}
	}
	return best
}

func main() {
	// A listener whose accept queue is full: further SYNs are dropped, so connects hang.
	fd, _ := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
	syscall.Listen(fd, 0)
	sa, _ := syscall.Getsockname(fd)
	port = fmt.Sprint(sa.(*syscall.SockaddrInet4).Port)
	hole := "127.0.0.1:" + port
	var conns []net.Conn
	for i := 0; i < 8; i++ {
		d := net.Dialer{Timeout: 200 * time.Millisecond}
		c, err := d.Dial("tcp", hole)
		if err != nil {
			break
		}
		conns = append(conns, c)
	}
	fmt.Println("black hole: filled:", len(conns) > 0)

	// ---- Canceling ctx during a hanging connect.
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	start := time.Now()
	_, err := (&net.Dialer{}).DialContext(ctx, "tcp", hole)
	took := time.Since(start)
	fmt.Printf("cancel: %s (%T) timeout=%v is context.Canceled=%v returned after >=100ms and <1s: %v\n",
		errText(err), err, isTimeout(err), errors.Is(err, context.Canceled),
		took >= 100*time.Millisecond && took < time.Second)

	// ---- ctx's deadline during a hanging connect.
	ctx2, c2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer c2()
	_, err = (&net.Dialer{}).DialContext(ctx2, "tcp", hole)
	// (Whether errors.Is(err, context.DeadlineExceeded) varies from run to run: the
	// connect's own deadline and ctx's interrupter race, and give different inner errors
	// with the same text.)
	fmt.Printf("deadline: %s timeout=%v\n", errText(err), isTimeout(err))

	// ---- A ctx already done: no socket (Control is not called), no lookup.
	ctx3, c3 := context.WithCancel(context.Background())
	c3()
	calls := 0
	counting := &net.Dialer{Control: func(network, address string, c syscall.RawConn) error {
		calls++
		return nil
	}}
	_, err = counting.DialContext(ctx3, "tcp", hole)
	fmt.Printf("precanceled: %s timeout=%v control calls=%d\n", errText(err), isTimeout(err), calls)
	text := mostly(50, func() error {
		_, err := counting.DialContext(ctx3, "tcp", "localhost:1")
		return err
	})
	fmt.Printf("precanceled lookup (most often): %s control calls=%d\n", text, calls)
	past, c4 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer c4()
	_, err = counting.DialContext(past, "tcp", hole)
	fmt.Printf("past deadline: %s timeout=%v control calls=%d\n", errText(err), isTimeout(err), calls)
	text = mostly(50, func() error {
		_, err := counting.DialContext(past, "tcp", "localhost:1")
		if !isTimeout(err) {
			fmt.Println("past deadline lookup: not a timeout:", err)
		}
		return err
	})
	fmt.Printf("past deadline lookup (most often): %s\n", text)
	text = mostly(50, func() error {
		_, err := (&net.Dialer{Timeout: -time.Second}).Dial("tcp", "localhost:1")
		return err
	})
	fmt.Printf("negative Dialer.Timeout lookup (most often): %s\n", text)

	// ---- ListenConfig.Listen under a canceled ctx: only a lookup notices it.
	ln, err := (&net.ListenConfig{}).Listen(ctx3, "tcp", "127.0.0.1:0")
	fmt.Printf("listen precanceled: %v\n", err)
	if ln != nil {
		ln.Close()
	}
	text = mostly(50, func() error {
		l, err := (&net.ListenConfig{}).Listen(ctx3, "tcp", "localhost:0")
		if l != nil {
			l.Close()
		}
		return err
	})
	fmt.Printf("listen precanceled lookup (most often): %s\n", text)

	// ---- Control on a Dialer: its arguments, when it runs, and its error.
	srv, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() {
		for {
			c, err := srv.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, 64)
				n, _ := c.Read(buf)
				c.Write(buf[:n])
				c.Close()
			}()
		}
	}()
	_, sport, _ := net.SplitHostPort(srv.Addr().String())
	srvAddr := srv.Addr().String()
	show := func(s string) string { return strings.ReplaceAll(s, sport, "SPORT") }
	var seen []string
	d := &net.Dialer{Control: func(network, address string, c syscall.RawConn) error {
		seen = append(seen, fmt.Sprintf("network=%s address=%s bound port=%d",
			network, show(address), boundPort(c)))
		return nil
	}}
	conn, err := d.Dial("tcp", srvAddr)
	fmt.Printf("dial control: err=%v calls=%d %s\n", err, len(seen), strings.Join(seen, "; "))
	if conn != nil {
		conn.Close()
	}
	seen = nil
	conn, err = d.Dial("tcp4", srvAddr)
	fmt.Printf("dial tcp4 control: err=%v %s\n", err, strings.Join(seen, "; "))
	if conn != nil {
		conn.Close()
	}
	seen = nil
	_, err = d.Dial("tcp", "localhost:1")
	fmt.Printf("dial refused control: %s %s\n", errText(err), strings.Join(seen, "; "))
	boom := &net.Dialer{Control: func(network, address string, c syscall.RawConn) error {
		return errors.New("boom")
	}}
	_, err = boom.Dial("tcp", srvAddr)
	fmt.Printf("dial control error: %s (%T)\n", show(errText(err)), err)

	// ---- Control on a ListenConfig.
	seen = nil
	lc := &net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		seen = append(seen, fmt.Sprintf("network=%s address=%s bound port=%d",
			network, address, boundPort(c)))
		return nil
	}}
	for _, a := range [][2]string{{"tcp", "127.0.0.1:0"}, {"tcp4", "127.0.0.1:0"}, {"tcp", ":0"},
		{"tcp", "localhost:0"}} {
		seen = nil
		l, err := lc.Listen(context.Background(), a[0], a[1])
		fmt.Printf("listen %s %s control: err=%v calls=%d %s\n", a[0], a[1], err, len(seen),
			strings.Join(seen, "; "))
		if l != nil {
			l.Close()
		}
	}
	lboom := &net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		return errors.New("boom")
	}}
	_, err = lboom.Listen(context.Background(), "tcp", "127.0.0.1:0")
	fmt.Printf("listen control error: %s (%T)\n", errText(err), err)

	// ---- A ctx canceled after DialContext returned leaves the conn alone.
	ctx5, c5 := context.WithCancel(context.Background())
	conn, err = (&net.Dialer{}).DialContext(ctx5, "tcp", srvAddr)
	if err != nil {
		fmt.Println("dial:", err)
		return
	}
	c5()
	time.Sleep(20 * time.Millisecond)
	_, werr := conn.Write([]byte("ping"))
	buf := make([]byte, 8)
	n, rerr := conn.Read(buf)
	fmt.Printf("cancel after dial: write err=%v read %q err=%v\n", werr, buf[:n], rerr)
	conn.Close()
	srv.Close()
	for _, c := range conns {
		c.Close()
	}
	syscall.Close(fd)
}
