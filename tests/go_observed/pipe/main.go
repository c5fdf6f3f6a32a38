// Observes Go 1.19's net.Pipe (a synchronous, in-memory, full-duplex Conn) that gonet's
// net::Pipe reproduces; //tests:pipe_test (and the pipe rows of
// //tests:transport_deadline_test, //tests:transport_close_test) assert the values
// printed here; pipe.out holds the output of go1.19.8 linux/amd64. Run: cd
// tests/go_observed && go run ./pipe
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func e(err error) string {
	if err == nil {
		return "err=<nil>"
	}
	return fmt.Sprintf("err=%q (%T) timeout=%v closed=%v eof=%v closedpipe=%v deadline=%v", err.Error(), err,
		isTimeout(err), errors.Is(err, net.ErrClosed), errors.Is(err, io.EOF),
		errors.Is(err, io.ErrClosedPipe), errors.Is(err, os.ErrDeadlineExceeded))
}

func line(scenario, format string, args ...any) {
	fmt.Printf("[%s] %s\n", scenario, fmt.Sprintf(format, args...))
}

type result struct {
	n   int
	err error
}

func main() {
	buf := make([]byte, 100)

	a, b := net.Pipe()
	line("pipe addrs", "type=%T local=%s/%s remote=%s/%s", a, a.LocalAddr().Network(), a.LocalAddr().String(),
		a.RemoteAddr().Network(), a.RemoteAddr().String())

	// ---- Write blocks until the reader has taken every byte.
	done := make(chan result)
	go func() {
		n, err := a.Write([]byte("hello"))
		done <- result{n, err}
	}()
	n, err := b.Read(buf)
	w := <-done
	line("pipe write read", "read n=%d data=%q %s; write n=%d %s", n, buf[:n], e(err), w.n, e(w.err))

	go func() {
		n, err := a.Write([]byte("0123456789"))
		done <- result{n, err}
	}()
	small := make([]byte, 4)
	var parts []string
	for got := 0; got < 10; {
		n, err := b.Read(small)
		if err != nil {
			parts = append(parts, e(err))
			break
		}
		parts = append(parts, fmt.Sprintf("%d:%q", n, small[:n]))
		got += n
	}
	w = <-done
	line("pipe partial reads", "reads=%v write n=%d %s", parts, w.n, e(w.err))

	// A write is not done while part of it is unread.
	go func() {
		n, err := a.Write([]byte("abcdef"))
		done <- result{n, err}
	}()
	n, _ = b.Read(small)
	select {
	case w = <-done:
		line("pipe write waits for the rest", "write returned early n=%d", w.n)
	case <-time.After(50 * time.Millisecond):
		n2, _ := b.Read(buf)
		w = <-done
		line("pipe write waits for the rest", "first read %d, write still blocked, second read %d, write n=%d %s",
			n, n2, w.n, e(w.err))
	}

	// An empty Write is a rendezvous too: it waits for a Read (which returns 0, nil).
	go func() {
		n, err := a.Write(nil)
		done <- result{n, err}
	}()
	select {
	case w = <-done:
		line("pipe empty write", "returned without a reader n=%d %s", w.n, e(w.err))
	case <-time.After(50 * time.Millisecond):
		n, err = b.Read(buf)
		w = <-done
		line("pipe empty write", "blocked until a read; read n=%d %s; write n=%d %s", n, e(err), w.n, e(w.err))
	}
	// An empty Read waits for a Write too (here: until its deadline).
	b.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	n, err = b.Read(nil)
	line("pipe empty read without a writer", "n=%d %s", n, e(err))
	b.SetReadDeadline(time.Time{})

	// ---- Deadlines.
	b.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	start := time.Now()
	n, err = b.Read(buf)
	line("pipe read deadline", "n=%d %s after>=40ms=%v", n, e(err), time.Since(start) >= 40*time.Millisecond)
	n, err = b.Read(buf)
	line("pipe read after deadline (sticky)", "n=%d %s", n, e(err))
	b.SetReadDeadline(time.Time{})
	go func() {
		n, err := a.Write([]byte("later"))
		done <- result{n, err}
	}()
	n, err = b.Read(buf)
	<-done
	line("pipe read deadline cleared", "n=%d data=%q %s", n, buf[:n], e(err))
	b.SetReadDeadline(time.Now().Add(-time.Second))
	n, err = b.Read(buf)
	line("pipe read past deadline", "n=%d %s", n, e(err))
	b.SetReadDeadline(time.Time{})
	a.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	n, err = a.Write([]byte("nobody reads"))
	line("pipe write deadline", "n=%d %s", n, e(err))
	a.SetWriteDeadline(time.Now().Add(-time.Second))
	n, err = a.Write([]byte("x"))
	line("pipe write past deadline", "n=%d %s", n, e(err))
	a.SetWriteDeadline(time.Time{})
	// A write deadline that passes after the reader took part of the write.
	a.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	go func() {
		n, err := a.Write([]byte("0123456789"))
		done <- result{n, err}
	}()
	n, _ = b.Read(small)
	w = <-done
	line("pipe write deadline after partial read", "read n=%d; write n=%d %s", n, w.n, e(w.err))
	a.SetWriteDeadline(time.Time{})
	// SetDeadline sets both.
	a.SetDeadline(time.Now().Add(-time.Second))
	_, rerr := a.Read(buf)
	_, werr := a.Write([]byte("x"))
	line("pipe setdeadline past", "read %s; write %s", e(rerr), e(werr))
	a.SetDeadline(time.Time{})
	// A deadline set while a Read is parked moves it.
	go func() {
		n, err := b.Read(buf)
		done <- result{n, err}
	}()
	time.Sleep(20 * time.Millisecond)
	b.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	w = <-done
	line("pipe deadline set while parked", "n=%d %s", w.n, e(w.err))
	b.SetReadDeadline(time.Time{})

	// ---- Close.
	go func() {
		n, err := b.Read(buf)
		done <- result{n, err}
	}()
	time.Sleep(20 * time.Millisecond)
	err = b.Close()
	w = <-done
	line("pipe close unblocks own read", "close %s; read n=%d %s", e(err), w.n, e(w.err))
	n, err = b.Read(buf)
	line("pipe read after own close", "n=%d %s", n, e(err))
	n, err = b.Write([]byte("x"))
	line("pipe write after own close", "n=%d %s", n, e(err))
	n, err = a.Read(buf)
	line("pipe read after peer close", "n=%d %s", n, e(err))
	n, err = a.Write([]byte("x"))
	line("pipe write after peer close", "n=%d %s", n, e(err))
	err = b.Close()
	line("pipe second close", "%s", e(err))
	err = a.Close()
	line("pipe close other end", "%s", e(err))
	err = a.Close()
	line("pipe close other end again", "%s", e(err))
	line("pipe setdeadline after close", "%s", e(b.SetDeadline(time.Now())))
	line("pipe setreaddeadline after close", "%s", e(b.SetReadDeadline(time.Now())))
	line("pipe addrs after close", "%s/%s", b.LocalAddr().Network(), b.LocalAddr().String())

	// Close by the peer unblocks a parked Read (EOF) and a parked Write.
	a, b = net.Pipe()
	go func() {
		n, err := a.Read(buf)
		done <- result{n, err}
	}()
	time.Sleep(20 * time.Millisecond)
	b.Close()
	w = <-done
	line("pipe peer close unblocks read", "n=%d %s", w.n, e(w.err))
	a.Close()

	a, b = net.Pipe()
	go func() {
		n, err := a.Write([]byte("0123456789"))
		done <- result{n, err}
	}()
	n, _ = b.Read(small)
	b.Close()
	w = <-done
	line("pipe peer close unblocks write", "read n=%d; write n=%d %s", n, w.n, e(w.err))
	a.Close()

	a, b = net.Pipe()
	go func() {
		n, err := a.Write([]byte("blocked"))
		done <- result{n, err}
	}()
	time.Sleep(20 * time.Millisecond)
	a.Close()
	w = <-done
	line("pipe close unblocks own write", "n=%d %s", w.n, e(w.err))
	b.Close()

	// Data written before a Close is not delivered afterwards: Write is synchronous.
	a, b = net.Pipe()
	a.Close()
	n, err = b.Read(buf)
	line("pipe read after peer closed before any write", "n=%d %s", n, e(err))
	b.Close()
}
